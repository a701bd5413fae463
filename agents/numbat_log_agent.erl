%% Numbat's log agent, loaded into managed nodes with code:load_binary/3 and started by Numbat.
%% A logger handler (which also sees error_logger, SASL reports and Elixir Logger) hands events
%% at or above the node's Numbat level to the agent process, which formats them as the node
%% would and sends them to its Numbat-side owner in batches. Overload safety: the handler never
%% blocks the logging process (it drops when the agent's queue is long), the agent forwards at
%% most max_rate events a second, and every drop is counted and reported. The agent monitors
%% its owner and removes itself (handler, process, module) when the owner or the connection goes.
%% When lager runs on the node, the agent also adds numbat_lager_backend to lager's sink (if
%% Numbat injected that module), at the same level, with the same queue limit and drop counter,
%% and removes it wherever it removes its logger handler. Logger events (error_logger and OTP's
%% reports included) come through the logger handler only, lager's own through the backend only:
%% see numbat_lager_backend for how lager's copies of error_logger events are left out.
%% Written for OTP 25 through 28; compiled with OTP 25's erlc +deterministic.
-module(numbat_log_agent).
-export([set_level/1, log/2, adding_handler/1, removing_handler/1]).

-define(HANDLER, numbat_notifier).
-define(LAGER_BACKEND, numbat_lager_backend).
-define(MAX_QUEUE, 10000).
-define(FLUSH_MS, 100).

%% start/2 (Options: #{level => Level, max_rate => EventsPerSecond, max_batch => N}), stop/0
%% and the owner monitor.
-include("numbat_agent_skeleton.hrl").

%% Changes the lowest level collected (in lager too, when the agent has a lager backend).
set_level(Level) ->
    case logger:set_handler_config(?HANDLER, level, Level) of
        ok -> set_lager_level(Level);
        Error -> Error
    end.

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

%% --- the agent process (see numbat_agent_skeleton.hrl) ---

agent_init(Owner, Options) ->
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
    add_lager_backend(Level, Dropped),
    erlang:send_after(?FLUSH_MS, self(), flush),
    #{owner => Owner, dropped => Dropped, batch => [], count => 0,
      max_rate => maps:get(max_rate, Options, 1000), max_batch => maps:get(max_batch, Options, 500),
      window => erlang:monotonic_time(millisecond), sent => 0, flushed_at => 0}.

agent_message({event, Event}, State) ->
    take(Event, State);
agent_message({lager_event, Msg}, State) ->
    take({lager, Msg}, State);
agent_message(flush, State) ->
    erlang:send_after(?FLUSH_MS, self(), flush),
    flush(State);
agent_message(_, State) ->
    State.

agent_cleanup() ->
    remove_handler(self()).

%% The module is gone: the lager backend's goes too, unless another agent's backend still runs.
agent_deleted() ->
    delete_lager_backend_module().

%% Removes the handler, and the lager backend, if they are this agent's (a newer agent's stay).
remove_handler(Agent) ->
    logger_change(fun() ->
                          case logger:get_handler_config(?HANDLER) of
                              {ok, #{config := #{agent := Agent}}} -> _ = logger:remove_handler(?HANDLER), ok;
                              _ -> ok
                          end
                  end),
    remove_lager_backend(Agent).

%% --- lager: a backend in its default sink, lager_event, whose id names the agent ---

%% Adds the backend when lager runs and Numbat injected it; the agent works without it.
add_lager_backend(Level, Dropped) ->
    Agent = self(),
    case whereis(lager_event) =/= undefined andalso code:ensure_loaded(?LAGER_BACKEND) of
        {module, ?LAGER_BACKEND} ->
            Args = #{agent => Agent, dropped => Dropped, level => Level, max_queue => ?MAX_QUEUE,
                     skip_redirected => lager_redirects_here()},
            try gen_event:add_handler(lager_event, {?LAGER_BACKEND, Agent}, Args) of
                ok -> update_lager_level();
                _ -> ok
            catch _:_ -> ok
            end;
        _ ->
            ok
    end.

%% Whether lager turns error_logger events into messages of lager_event (its default,
%% error_logger_redirect, when no error_logger_lager_event sink is configured): those reach
%% Numbat through the logger handler already. Asked from the agent, never from the backend,
%% which runs in lager_event: error_logger may be waiting on lager_event (lager's sync mode).
lager_redirects_here() ->
    try
        lists:member(error_logger, logger:get_handler_ids())
            andalso lists:member(error_logger_lager_h, gen_event:which_handlers(error_logger))
            andalso whereis(error_logger_lager_event) =:= undefined
    catch _:_ -> false
    end.

set_lager_level(Level) ->
    case whereis(?MODULE) of
        undefined -> ok;
        Agent ->
            try gen_event:call(lager_event, {?LAGER_BACKEND, Agent}, {set_loglevel, Level}, 5000) of
                ok -> update_lager_level();
                _ -> ok
            catch _:_ -> ok
            end
    end.

remove_lager_backend(Agent) ->
    case whereis(lager_event) of
        undefined -> ok;
        _ ->
            try gen_event:delete_handler(lager_event, {?LAGER_BACKEND, Agent}, remove) of
                {error, module_not_found} -> ok;
                _ -> update_lager_level()
            catch _:_ -> ok
            end
    end.

%% Lager's own check (in every logging process) lets through only the levels some backend of
%% the sink wants: it recomputes them from the backends' get_loglevel answers.
update_lager_level() ->
    _ = (catch lager:update_loglevel_config(lager_event)),
    ok.

%% Once no agent's backend is left, the backend's module goes too, as the agent's does.
delete_lager_backend_module() ->
    InUse = try [H || {?LAGER_BACKEND, _} = H <- gen_event:which_handlers(lager_event)] =/= []
            catch _:_ -> false
            end,
    case code:is_loaded(?LAGER_BACKEND) =/= false andalso not InUse of
        true ->
            code:delete(?LAGER_BACKEND),
            timer:apply_after(1000, code, soft_purge, [?LAGER_BACKEND]);
        false ->
            ok
    end.

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
%% as the node would print it, and printable metadata; lager's carry `lager` fifth.
entry({lager, Msg}) ->
    lager_entry(Msg);
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

%% A lager message (lager_msg, formatted by lager already; its levels are logger's).
lager_entry(Msg) ->
    try
        {Mega, Sec, Micro} = lager_msg:timestamp(Msg),
        Text = try lager_text(lager_msg:message(Msg))
               catch _:_ -> <<"(unformattable log event)">>
               end,
        {(Mega * 1000000 + Sec) * 1000000 + Micro, lager_msg:severity(Msg), Text, lager_metadata(lager_msg:metadata(Msg)), lager}
    catch _:_ ->
            {erlang:system_time(microsecond), notice, <<"(unreadable lager event)">>, [], lager}
    end.

lager_text(Message) ->
    Text = case unicode:characters_to_binary(Message) of
               Binary when is_binary(Binary) -> Binary;
               _ -> iolist_to_binary(Message)
           end,
    string:slice(string:trim(Text, trailing, [$\n, $\r, [$\r, $\n]]), 0, 8192).

%% Printable keys only, the first of each (lager puts a call's own metadata before its defaults).
lager_metadata(Metadata) ->
    Keys = [pid, module, function, line, application, node],
    lists:reverse(
      lists:foldl(fun({Key, Value}, Acc) ->
                          Name = atom_to_binary(Key, utf8),
                          case lists:member(Key, Keys) andalso not lists:keymember(Name, 1, Acc) of
                              true -> [{Name, lager_printable(Key, Value)} | Acc];
                              false -> Acc
                          end;
                     (_, Acc) ->
                          Acc
                  end, [], Metadata)).

%% The parse transform's line is {Line, Column} where the compiler keeps columns (OTP 24 on).
lager_printable(line, {Line, Column}) when is_integer(Line), is_integer(Column) -> integer_to_binary(Line);
lager_printable(_, Value) when is_atom(Value) -> atom_to_binary(Value, utf8);
lager_printable(_, Value) when is_integer(Value) -> integer_to_binary(Value);
lager_printable(_, Value) when is_pid(Value) -> list_to_binary(pid_to_list(Value));
lager_printable(_, Value) ->
    %% The parse transform's pid is pid_to_list/1's string.
    case is_list(Value) andalso io_lib:printable_unicode_list(Value) of
        true -> unicode:characters_to_binary(Value);
        false -> iolist_to_binary(io_lib:format("~0tp", [Value]))
    end.
