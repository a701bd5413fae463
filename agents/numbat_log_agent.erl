%% Numbat's log agent, loaded into managed nodes with code:load_binary/3 and started by Numbat.
%% A logger handler (which also sees error_logger, SASL reports and Elixir Logger) hands events
%% at or above the node's Numbat level to the agent process, which formats them as the node
%% would and sends them to its Numbat-side owner in batches. Overload safety: the handler never
%% blocks the logging process (it drops when the agent's queue is long), the agent forwards at
%% most max_rate events a second, and every drop is counted and reported. The agent monitors
%% its owner and removes itself (handler, process, module) when the owner or the connection goes.
%% Written for OTP 25 through 28; compiled with OTP 25's erlc +deterministic.
-module(numbat_log_agent).
-export([start/2, stop/0, set_level/1, log/2, adding_handler/1, removing_handler/1]).

-define(HANDLER, numbat_notifier).
-define(MAX_QUEUE, 10000).
-define(FLUSH_MS, 100).

%% Options: #{level => Level, max_rate => EventsPerSecond, max_batch => N}.
start(Owner, Options) when is_pid(Owner), is_map(Options) ->
    stop(),
    Parent = self(),
    Pid = spawn(fun() -> init(Owner, Options, Parent) end),
    receive
        {Pid, started} -> {ok, Pid};
        {Pid, failed, Reason} -> {error, Reason}
    after 5000 -> exit(Pid, kill), {error, timeout}
    end.

stop() ->
    case whereis(?MODULE) of
        undefined -> ok;
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! stop,
            receive {'DOWN', Ref, process, Pid, _} -> ok after 5000 -> exit(Pid, kill), ok end
    end.

%% Changes the lowest level collected.
set_level(Level) ->
    logger:set_handler_config(?HANDLER, level, Level).

%% --- logger handler: runs in the logging process, so it only hands the event over ---

adding_handler(Config) -> {ok, Config}.
removing_handler(_Config) -> ok.

log(Event, #{config := #{agent := Agent, dropped := Dropped}}) ->
    case erlang:process_info(Agent, message_queue_len) of
        {message_queue_len, Length} when Length < ?MAX_QUEUE -> Agent ! {event, Event}, ok;
        undefined ->
            %% The agent is gone but its handler is not: remove it (from another process, as a
            %% handler must not call logger's API on itself).
            spawn(fun() -> remove_handler(Agent) end),
            ok;
        _ -> counters:add(Dropped, 1, 1)
    end;
log(_, _) ->
    ok.

%% --- the agent process ---

init(Owner, Options, Parent) ->
    try
        true = register(?MODULE, self()),
        OwnerRef = monitor(process, Owner),
        Dropped = counters:new(1, [write_concurrency]),
        Level = maps:get(level, Options, error),
        ok = logger_change(fun() ->
                                   _ = logger:remove_handler(?HANDLER),
                                   logger:add_handler(?HANDLER, ?MODULE, #{level => Level, config => #{agent => self(), dropped => Dropped}})
                           end),
        %% A guard removes the handler however this process ends (even killed), so a handler
        %% never outlives its agent.
        Agent = self(),
        spawn(fun() ->
                      Ref = monitor(process, Agent),
                      receive {'DOWN', Ref, process, Agent, _} -> remove_handler(Agent) end
              end),
        Parent ! {self(), started},
        erlang:send_after(?FLUSH_MS, self(), flush),
        loop(#{owner => Owner, owner_ref => OwnerRef, dropped => Dropped, batch => [], count => 0,
               max_rate => maps:get(max_rate, Options, 1000), max_batch => maps:get(max_batch, Options, 500),
               window => erlang:monotonic_time(millisecond), sent => 0, flushed_at => 0})
    catch
        Class:Reason ->
            remove_handler(self()),
            Parent ! {self(), failed, {Class, Reason}}
    end.

loop(State = #{owner_ref := OwnerRef}) ->
    receive
        {event, Event} ->
            loop(take(Event, State));
        flush ->
            erlang:send_after(?FLUSH_MS, self(), flush),
            loop(flush(State));
        {'DOWN', OwnerRef, process, _, _} ->
            remove_handler(self()),
            %% Numbat is gone: take the module away too, once this process has left it.
            code:delete(?MODULE),
            timer:apply_after(1000, code, soft_purge, [?MODULE]),
            exit(normal);
        stop ->
            remove_handler(self()),
            exit(normal);
        _ ->
            loop(State)
    end.

%% Removes the handler if it is this agent's (a newer agent's handler stays).
remove_handler(Agent) ->
    logger_change(fun() ->
                          case logger:get_handler_config(?HANDLER) of
                              {ok, #{config := #{agent := Agent}}} -> _ = logger:remove_handler(?HANDLER), ok;
                              _ -> ok
                          end
                  end).

%% Changes to logger's handlers, one at a time on this node among Numbat's agents: OTP's
%% logger loses one of two handler removals made at the same moment (the id stays listed in
%% logger:get_handler_ids/0), and Numbat's two agents go away together.
logger_change(Fun) ->
    global:trans({numbat_logger_change, self()}, Fun, [node()], infinity).

%% Keeps an event unless this second's budget is spent (then it is counted as dropped).
take(Event, State = #{batch := Batch, count := Count, max_batch := MaxBatch, dropped := Dropped}) ->
    State1 = #{sent := Sent, max_rate := MaxRate} = roll_window(State),
    case Sent + Count < MaxRate of
        true ->
            State2 = State1#{batch := [entry(Event) | Batch], count := Count + 1},
            Now = erlang:monotonic_time(millisecond),
            %% The first event after a quiet spell goes at once; under load, events wait for
            %% the next tick (every 100 ms) or a full batch.
            case Count + 1 >= MaxBatch orelse Now - maps:get(flushed_at, State2) >= ?FLUSH_MS of
                true -> flush(State2);
                false -> State2
            end;
        false ->
            counters:add(Dropped, 1, 1),
            State1
    end.

roll_window(State = #{window := Window}) ->
    Now = erlang:monotonic_time(millisecond),
    case Now - Window >= 1000 of
        true -> State#{window := Now, sent := 0};
        false -> State
    end.

flush(State = #{owner := Owner, batch := Batch, count := Count, dropped := Dropped, sent := Sent}) ->
    Lost = counters:get(Dropped, 1),
    case Batch =/= [] orelse Lost > 0 of
        true ->
            counters:sub(Dropped, 1, Lost),
            Owner ! {numbat_logs, lists:reverse(Batch), Lost},
            State#{batch := [], count := 0, sent := Sent + Count, flushed_at := erlang:monotonic_time(millisecond)};
        false ->
            State
    end.

%% One event as Numbat stores it: time (microseconds since 1970), level, the message formatted
%% as the node would print it, and printable metadata.
entry(#{level := Level, msg := _, meta := Meta} = Event) ->
    Text = try
               unicode:characters_to_binary(
                 logger_formatter:format(Event, #{single_line => true, template => [msg], max_size => 8192, depth => 40}))
           catch _:_ -> <<"(unformattable log event)">>
           end,
    Time = maps:get(time, Meta, erlang:system_time(microsecond)),
    {Time, Level, Text, metadata(Meta)}.

metadata(Meta) ->
    Keys = [pid, mfa, file, line, domain, registered_name, application, report_cb, error_logger],
    [{atom_to_binary(Key, utf8), printable(Key, Value)} || {Key, Value} <- maps:to_list(Meta), lists:member(Key, Keys), Key =/= report_cb].

printable(mfa, {M, F, A}) -> iolist_to_binary(io_lib:format("~s:~s/~b", [M, F, A]));
printable(file, File) when is_list(File) -> unicode:characters_to_binary(File);
printable(_, Value) -> iolist_to_binary(io_lib:format("~0tp", [Value])).
