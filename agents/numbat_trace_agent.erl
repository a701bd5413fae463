%% Numbat's trace agent: one bounded trace session per node at a time (issue 19, "safe tracing").
%% Loaded into managed nodes with code:load_binary/3 and started by Numbat for one session:
%% calls to M:F/A (with a match spec), the messages of one process, or garbage collections.
%%
%% Bounded as recon_trace is: the agent process is the tracer; it only counts what it receives
%% (a linked formatter, not traced itself, formats the batches and sends them) and turns every
%% flag and pattern it set off, then exits, as soon as
%% - max_count events were kept (exactly that many go to Numbat),
%% - more than N events came within Ms (max_rate {N, Ms}: a kill switch, not a throttle),
%% - duration_ms passed, or its own message queue grew past max_queue (checked after every
%%   event; events are formatted when a batch is flushed, not as they are counted),
%% - stop/1 was called, or its owner (a Numbat mailbox) or the connection to Numbat went.
%% One session per node: the agent is registered under its module's name, so a second start
%% answers {error, busy}. It does not use numbat_agent_skeleton.hrl: the skeleton's start/2
%% stops a running agent, which here would end someone else's session.
%%
%% To the owner: {numbat_trace, Session, {events, [{Micros, Kind, PidText, Text}]}} in batches,
%% then once {numbat_trace, Session, {ended, Reason, Kept, Dropped}}. Texts are bounded (depth
%% and bytes), so one huge argument cannot flood Numbat. Once ended, the module deletes itself
%% unless a new session started meanwhile.
%% Written for OTP 25 through 28; compiled with OTP 25's erlc +deterministic.
-module(numbat_trace_agent).
-export([start/2, stop/1, stop/0, info/0]).
%% Pure, exported for its tests (TraceUnitTests drives it on OTP 25 and 28).
-export([rate_window/4]).

-define(DEFAULT_DEPTH, 12).
-define(DEFAULT_TEXT, 1024).

%% Starts a session; {ok, Pid, Matched} (Matched: the functions the pattern matched, 0 for
%% messages and gc), {error, busy} when a session runs, {error, Reason} when it cannot start
%% (no_such_module, no_matching_function, {bad_match_spec, Errors}, no_such_process...).
start(Owner, Options) when is_pid(Owner), is_map(Options) ->
    Parent = self(),
    {Pid, Ref} = spawn_monitor(fun() -> init(Owner, Options, Parent) end),
    receive
        {Pid, started, Matched} -> demonitor(Ref, [flush]), {ok, Pid, Matched};
        {Pid, failed, Reason} -> demonitor(Ref, [flush]), {error, Reason};
        {'DOWN', Ref, process, Pid, Reason} -> {error, {exited, Reason}}
    after 10000 -> exit(Pid, kill), {error, timeout}
    end.

%% Stops the session Session (a binary), if it is the one running: ok, or not_running.
stop(Session) ->
    case whereis(?MODULE) of
        undefined -> not_running;
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! {stop, Session, self(), Ref},
            receive
                {Ref, not_this_session} -> demonitor(Ref, [flush]), not_running;
                {'DOWN', Ref, process, Pid, _} -> ok
            after 5000 -> demonitor(Ref, [flush]), exit(Pid, kill), ok
            end
    end.

%% Stops whatever session runs (Numbat's purge).
stop() ->
    case whereis(?MODULE) of
        undefined -> ok;
        Pid -> stop(session_of(Pid))
    end.

%% The running session's id, or undefined.
info() ->
    case whereis(?MODULE) of
        undefined -> undefined;
        Pid -> session_of(Pid)
    end.

session_of(Pid) ->
    case erlang:process_info(Pid, dictionary) of
        {dictionary, Dictionary} -> proplists:get_value(numbat_trace_session, Dictionary);
        _ -> undefined
    end.

%% --- the agent (tracer) process ---

init(Owner, Options, Parent) ->
    case catch register(?MODULE, self()) of
        true ->
            %% A flood of trace messages stays off the tracer's heap (no long garbage collections).
            process_flag(message_queue_data, off_heap),
            Session = maps:get(session, Options, <<>>),
            put(numbat_trace_session, Session),
            OwnerRef = monitor(process, Owner),
            try setup(Options) of
                {ok, Matched, Set} ->
                    Parent ! {self(), started, Matched},
                    Now = erlang:monotonic_time(millisecond),
                    erlang:send_after(maps:get(duration_ms, Options, 60000), self(), time_limit),
                    {RateN, RateMs} = maps:get(max_rate, Options, {1000, 1000}),
                    Depth = maps:get(depth, Options, ?DEFAULT_DEPTH),
                    MaxText = maps:get(max_text, Options, ?DEFAULT_TEXT),
                    %% Formatting is the formatter's (linked: it goes with the tracer), so the
                    %% tracer only counts, and reaches a limit without waiting on io_lib.
                    Formatter = spawn_link(fun() -> format_loop(Owner, Session, Depth, MaxText, 0) end),
                    %% Not traced itself (a new process under `all`): its io_lib calls would feed back.
                    case Set of
                        #{pids := all, flags := Flags} -> erlang:trace(Formatter, false, Flags);
                        _ -> ok
                    end,
                    State = #{owner_ref => OwnerRef, session => Session, set => Set, formatter => Formatter,
                              max_count => maps:get(max_count, Options, 1000), kept => 0,
                              rate_n => RateN, rate_ms => RateMs, window => Now, in_window => 0,
                              max_queue => maps:get(max_queue, Options, 50000),
                              batch => [], batch_size => maps:get(max_batch, Options, 200),
                              batch_ms => maps:get(batch_ms, Options, 100), flushing => false},
                    loop(State);
                {error, Reason, Set} ->
                    clear(Set),
                    Parent ! {self(), failed, Reason},
                    leave()
            catch
                Class:Reason:_ ->
                    clear(get(numbat_trace_set)),
                    Parent ! {self(), failed, {Class, Reason}},
                    leave()
            end;
        _ ->
            Parent ! {self(), failed, busy}
    end.

%% Sets the flags and patterns; {ok, Matched, Set} or {error, Reason, Set}, Set being what to
%% undo (also kept in the dictionary, for a crash halfway).
%% Names come as binaries and become atoms only when the node knows them (a module loaded or on
%% the code path, a function of a loaded module): a misspelt name leaves no atom behind.
setup(#{kind := call, mfa := {Module, Function, A}} = Options) when is_binary(Module), is_binary(Function), is_integer(A) orelse A =:= '_' ->
    case {module_atom(Module), function_atom(Function)} of
        {undefined, _} -> {error, no_such_module, #{}};
        {_, undefined} -> {error, no_matching_function, #{}};
        {M, F} -> setup_call(M, F, A, Options)
    end;
setup(#{kind := messages} = Options) ->
    case target(maps:get(target, Options, undefined)) of
        {ok, Pid} when Pid =/= self() ->
            Set = remember(#{pids => Pid, flags => [send, 'receive', timestamp]}),
            erlang:trace(Pid, true, [send, 'receive', timestamp, {tracer, self()}]),
            {ok, 0, Set};
        {ok, _} -> {error, no_such_process, #{}};
        Error -> {error, Error, #{}}
    end;
setup(#{kind := gc} = Options) ->
    case maps:get(target, Options, all) of
        all ->
            Set = remember(#{pids => all, flags => [garbage_collection, timestamp]}),
            erlang:trace(all, true, [garbage_collection, timestamp, {tracer, self()}]),
            erlang:trace(self(), false, [garbage_collection, timestamp]),
            {ok, 0, Set};
        Target ->
            case target(Target) of
                {ok, Pid} when Pid =/= self() ->
                    Set = remember(#{pids => Pid, flags => [garbage_collection, timestamp]}),
                    erlang:trace(Pid, true, [garbage_collection, timestamp, {tracer, self()}]),
                    {ok, 0, Set};
                {ok, _} -> {error, no_such_process, #{}};
                Error -> {error, Error, #{}}
            end
    end;
setup(_) ->
    {error, bad_options, #{}}.

%% The module's atom if it is loaded or can be (its beam is on the code path); else undefined.
module_atom(Name) ->
    try binary_to_existing_atom(Name, utf8)
    catch error:badarg ->
        case code:where_is_file(binary_to_list(Name) ++ ".beam") of
            non_existing -> undefined;
            _ -> binary_to_atom(Name, utf8)
        end
    end.

%% '_' (any function), or the function's atom if it exists at all (a loaded module's functions'
%% names do); else undefined.
function_atom(<<"_">>) -> '_';
function_atom(Name) ->
    try binary_to_existing_atom(Name, utf8)
    catch error:badarg -> undefined
    end.

setup_call(M, F, A, Options) ->
    MatchSpec = maps:get(match_spec, Options, true),
    case code:ensure_loaded(M) of
        {module, M} ->
            case check_match_spec(MatchSpec) of
                ok ->
                    Set0 = remember(#{pattern => {M, F, A}}),
                    case erlang:trace_pattern({M, F, A}, MatchSpec, [local]) of
                        0 -> {error, no_matching_function, Set0};
                        Matched ->
                            Set = remember(Set0#{pids => all, flags => [call, timestamp]}),
                            erlang:trace(all, true, [call, timestamp, {tracer, self()}]),
                            %% The tracer's own calls (formatting) are never traced.
                            erlang:trace(self(), false, [call, timestamp]),
                            {ok, Matched, Set}
                    end;
                {error, Errors} -> {error, {bad_match_spec, Errors}, #{}}
            end;
        _ -> {error, no_such_module, #{}}
    end.

remember(Set) ->
    put(numbat_trace_set, Set),
    Set.

%% A match spec the emulator accepts for call tracing (true: every call, no actions).
check_match_spec(true) -> ok;
check_match_spec(MatchSpec) when is_list(MatchSpec) ->
    case catch erlang:match_spec_test([], MatchSpec, trace) of
        {ok, _, _, _} -> ok;
        {error, Errors} -> {error, [iolist_to_binary(io_lib:format("~0tp", [E])) || E <- Errors]};
        _ -> {error, [<<"not a match specification">>]}
    end;
check_match_spec(_) -> {error, [<<"not a match specification">>]}.

%% A pid (as text) or a registered name ({name, Binary}), alive.
target(Text) when is_binary(Text) ->
    try list_to_pid(binary_to_list(Text)) of
        Pid ->
            case is_process_alive(Pid) of
                true -> {ok, Pid};
                false -> no_such_process
            end
    catch error:badarg -> no_such_process
    end;
target({name, Name}) when is_binary(Name) ->
    %% A registered name is an atom that exists already: no atom is made for a wrong one.
    try whereis(binary_to_existing_atom(Name, utf8)) of
        Pid when is_pid(Pid) -> {ok, Pid};
        _ -> no_such_process
    catch error:badarg -> no_such_process
    end;
target(_) -> no_such_process.

%% Turns off exactly what the session turned on: the pattern and the flags.
clear(undefined) -> ok;
clear(Set) ->
    case maps:find(pids, Set) of
        {ok, Pids} -> catch erlang:trace(Pids, false, maps:get(flags, Set));
        error -> ok
    end,
    case maps:find(pattern, Set) of
        {ok, MFA} -> catch erlang:trace_pattern(MFA, false, [local]);
        error -> ok
    end,
    ok.

loop(State = #{owner_ref := OwnerRef}) ->
    receive
        Trace when element(1, Trace) =:= trace_ts ->
            loop(traced(Trace, State));
        flush ->
            loop(flush(State#{flushing := false}));
        time_limit ->
            finish(time_limit, State);
        {stop, Session, From, Ref} ->
            case Session =:= maps:get(session, State) of
                true -> finish(stopped, State);
                false -> From ! {Ref, not_this_session}, loop(State)
            end;
        {'DOWN', OwnerRef, process, _, _} ->
            %% Numbat is gone: nobody to tell; undo and leave (the formatter too).
            clear(maps:get(set, State)),
            unlink(maps:get(formatter, State)),
            exit(maps:get(formatter, State), kill),
            leave();
        _ ->
            loop(State)
    end.

%% One trace message: kept, or the session ends at a limit.
traced(Trace, State = #{kept := Kept, max_count := Max, in_window := In, window := Window, rate_n := RateN, rate_ms := RateMs}) ->
    case rate_window(erlang:monotonic_time(millisecond), {Window, In}, RateN, RateMs) of
        stop -> finish(rate_limit, State);
        {keep, {Window1, In1}} ->
            %% Kept raw: formatting waits for the flush, so counting to a limit (and turning
            %% tracing off there) never waits on formatting.
            State2 = add(Trace, State#{window := Window1, in_window := In1, kept := Kept + 1}),
            case Kept + 1 >= Max of
                true -> finish(max_count, State2);
                false -> check_queue(State2)
            end
    end.

%% recon_trace's rate limit: at most N events in a window of Ms milliseconds, the window
%% starting at its first event; one more and the session stops (stop), else {keep, Window}.
rate_window(Now, {Start, In}, N, Ms) ->
    {Start1, In1} = case Now - Start >= Ms of
                        true -> {Now, 1};
                        false -> {Start, In + 1}
                    end,
    case In1 > N of
        true -> stop;
        false -> {keep, {Start1, In1}}
    end.

%% The tracer's own queue, after every event (a constant-time read): past max_queue the node
%% makes trace messages faster than the tracer can take them.
check_queue(State = #{max_queue := MaxQueue}) ->
    case erlang:process_info(self(), message_queue_len) of
        {message_queue_len, Len} when Len > MaxQueue -> finish(overload, State);
        _ -> State
    end.

add(Event, State = #{batch := Batch, batch_size := Size, flushing := Flushing, batch_ms := Ms}) ->
    State1 = State#{batch := [Event | Batch]},
    if
        length(Batch) + 1 >= Size -> flush(State1);
        Flushing -> State1;
        true -> erlang:send_after(Ms, self(), flush), State1#{flushing := true}
    end.

flush(State = #{batch := []}) -> State;
flush(State = #{batch := Batch, formatter := Formatter}) ->
    Formatter ! {batch, lists:reverse(Batch)},
    State#{batch := []}.

%% The session ends: flags and patterns off first (no new trace messages), then the last batch
%% and the end go to the owner through the formatter (in order), and the process leaves once
%% the formatter is done (at most 5 s). It never returns.
finish(Reason, State = #{set := Set, formatter := Formatter}) ->
    clear(Set),
    #{kept := Kept} = flush(State),
    Formatter ! {ended, Reason, Kept, self()},
    receive {Formatter, done} -> ok after 5000 -> unlink(Formatter), exit(Formatter, kill) end,
    leave().

%% The formatter: each batch formatted and sent to the owner; nosuspend, so a congested link to
%% Numbat drops a batch (counted, and told at the end) instead of stalling.
format_loop(Owner, Session, Depth, MaxText, Dropped) ->
    receive
        {batch, Traces} ->
            Events = [event(Trace, Depth, MaxText) || Trace <- Traces],
            case erlang:send(Owner, {numbat_trace, Session, {events, Events}}, [nosuspend]) of
                nosuspend -> format_loop(Owner, Session, Depth, MaxText, Dropped + length(Events));
                _ -> format_loop(Owner, Session, Depth, MaxText, Dropped)
            end;
        {ended, Reason, Kept, From} ->
            Owner ! {numbat_trace, Session, {ended, Reason, Kept, Dropped}},
            From ! {self(), done}
    end.

%% Unregisters, then deletes the module unless a new session started meanwhile; the process
%% ends once this returns (trace messages still queued go with it).
leave() ->
    catch unregister(?MODULE),
    case whereis(?MODULE) of
        undefined ->
            _ = code:soft_purge(?MODULE),
            _ = code:delete(?MODULE),
            timer:apply_after(1000, code, soft_purge, [?MODULE]);
        _ -> ok
    end,
    exit(normal).

%% --- events, as compact bounded texts ---

event(Trace, Depth, MaxText) ->
    Stamp = element(tuple_size(Trace), Trace),
    Pid = element(2, Trace),
    Kind = element(3, Trace),
    {micros(Stamp), Kind, pid_text(Pid), clip(describe(Trace, Depth), MaxText)}.

describe({trace_ts, _, call, {M, F, Args}, _}, D) -> call_text(M, F, Args, D);
describe({trace_ts, _, call, {M, F, Args}, Extra, _}, D) -> [call_text(M, F, Args, D), " ", term(Extra, D)];
describe({trace_ts, _, return_from, {M, F, A}, Value, _}, D) -> io_lib:format("~tw:~tw/~w -> ~ts", [M, F, A, term(Value, D)]);
describe({trace_ts, _, exception_from, {M, F, A}, {Class, Value}, _}, D) -> io_lib:format("~tw:~tw/~w ~w:~ts", [M, F, A, Class, term(Value, D)]);
describe({trace_ts, _, 'receive', Message, _}, D) -> term(Message, D);
describe({trace_ts, _, send, Message, To, _}, D) -> [term(Message, D), " to ", term(To, D)];
describe({trace_ts, _, send_to_non_existing_process, Message, To, _}, D) -> [term(Message, D), " to ", term(To, D)];
describe({trace_ts, _, _Kind, Info, _}, D) -> term(Info, D);
describe(Other, D) -> term(Other, D).

call_text(M, F, Args, D) when is_list(Args) ->
    [io_lib:format("~tw:~tw(", [M, F]), lists:join(", ", [term(A, D) || A <- Args]), ")"];
call_text(M, F, A, _) ->
    io_lib:format("~tw:~tw/~w", [M, F, A]).

term(Term, Depth) -> io_lib:format("~0tP", [Term, Depth]).

clip(IoData, Max) ->
    Binary = unicode:characters_to_binary(IoData),
    case byte_size(Binary) > Max of
        true -> <<(binary:part(Binary, 0, Max))/binary, "...">>;
        false -> Binary
    end.

micros({Mega, Seconds, Micro}) -> (Mega * 1000000 + Seconds) * 1000000 + Micro;
micros(_) -> erlang:system_time(microsecond).

pid_text(Pid) when is_pid(Pid) -> list_to_binary(pid_to_list(Pid));
pid_text(Port) when is_port(Port) -> list_to_binary(port_to_list(Port));
pid_text(Other) -> iolist_to_binary(io_lib:format("~0tp", [Other])).
