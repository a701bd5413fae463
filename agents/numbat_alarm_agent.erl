%% Numbat's alarm agent, loaded into managed nodes with code:load_binary/3 and started by Numbat.
%% Two jobs. It subscribes to SASL's alarm_handler (when SASL runs), and to any other alarm
%% manager named in its options that runs (RabbitMQ's rabbit_alarm; any gen_event manager that
%% takes alarm_handler's events): the current alarms are sent to the owner once, then every set
%% and clear as it happens. And check/2 gathers what Numbat's built-in alarms are judged on
%% (counts and limits, memory, descriptors, long message queues and big processes, old code,
%% module and export tables, shell history, distribution buffers, run queues, clock and time
%% zone, application and system versions, os_mon's CPU load and disks) in one bounded pass. The agent monitors its Numbat-side owner and removes itself (handler, process, module)
%% when the owner or the connection goes. Written for OTP 25 through 28; compiled with OTP 25's
%% erlc +deterministic.
-module(numbat_alarm_agent).
-behaviour(gen_event).
-export([check/2, links/0]).
-export([init/1, handle_event/2, handle_call/2, handle_info/2, terminate/2, code_change/3]).

%% The agent's start/2 (Owner receives {numbat_alarms, sync, [{Id, Description}]}, or
%% {numbat_alarms, sync, unavailable} without SASL, then {numbat_alarms, set, Id, Description}
%% and {numbat_alarms, clear, Id}; for another manager M, {numbat_manager_alarms, M, sync,
%% Alarms}, {numbat_manager_alarms, M, set, Id, Description} and {numbat_manager_alarms, M,
%% clear, Id}), stop/0 and owner monitor. Options: #{managers => [M]}, the other managers.
-include("numbat_agent_skeleton.hrl").

%% The facts of the built-in checks, as a map; {error, not_running} without the agent. Options:
%% #{queue_threshold => N (report processes with at least N messages), max_scan => N (skip the
%% process scan above N processes), max_reported => N}.
check(Options, Timeout) ->
    case whereis(?MODULE) of
        undefined -> {error, not_running};
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! {check, self(), Ref, Options},
            receive
                {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
                {'DOWN', Ref, process, Pid, Reason} -> {error, Reason}
            after Timeout -> demonitor(Ref, [flush]), {error, timeout}
            end
    end.

%% The node's view for Numbat's partition watch, in one cheap call: the visible nodes it is
%% connected to, the bytes queued in each connected peer's distribution buffer (one port_info per
%% peer whose distribution runs over a port), the busy limit, and, when the agent process runs
%% and holds the node's system monitor, how many times a process was suspended on each peer's
%% busy distribution port since the agent started (busy_dist_port events; `unavailable` when
%% the agent does not run or another tool holds the system monitor, which is never taken away).
links() ->
    #{nodes => erlang:nodes(),
      queues => [{Node, Size} || {Node, Port} <- erlang:system_info(dist_ctrl), is_port(Port),
                                 {queue_size, Size} <- [erlang:port_info(Port, queue_size)]],
      busy_limit => erlang:system_info(dist_buf_busy_limit),
      busy_events => busy_events()}.

busy_events() ->
    case whereis(?MODULE) of
        undefined -> unavailable;
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! {busy_events, self(), Ref},
            receive
                {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
                {'DOWN', Ref, process, Pid, _} -> unavailable
            after 1000 -> demonitor(Ref, [flush]), unavailable
            end
    end.

%% --- the agent process (see numbat_agent_skeleton.hrl) ---

%% The subscription comes first in the agent's mailbox, so start/2 answers before the owner's
%% sync (and never waits on alarm_handler).
agent_init(Owner, Options) ->
    self() ! subscribe,
    %% busy_dist_port events, only when nobody else monitors the system: a node has a single
    %% system monitor, and an application's own (riak_sysmon, a shell session) must not be lost.
    case erlang:system_monitor() of
        undefined -> erlang:system_monitor(self(), [busy_dist_port]), put(numbat_busy, #{});
        _ -> ok
    end,
    Managers = [M || M <- maps:get(managers, Options, []), is_atom(M), M =/= alarm_handler],
    put(numbat_managers, Managers),
    #{owner => Owner, subscribed => false, managers => maps:from_list([{M, false} || M <- Managers]),
      tables => undefined}.

agent_message(subscribe, State) ->
    subscribe(State);
agent_message({check, From, Ref, Options}, State) ->
    %% SASL or another manager may have started (or restarted) since: subscribe again first.
    State1 = subscribe(State),
    {Tables, State2} = tables(State1),
    Facts = (facts(Options))#{sasl => maps:get(subscribed, State2),
                              managers => [M || {M, true} <- maps:to_list(maps:get(managers, State2))]},
    From ! {Ref, {ok, maps:merge(Facts, Tables)}},
    State2;
agent_message({alarm, Event}, State) ->
    maps:get(owner, State) ! Event,
    State;
agent_message({gen_event_EXIT, {?MODULE, {_, alarm_handler}}, _}, State) ->
    %% alarm_handler went away (SASL stopped) or dropped the handler.
    State#{subscribed := false};
agent_message({gen_event_EXIT, {?MODULE, {_, Manager}}, _}, State = #{managers := Managers}) ->
    State#{managers := Managers#{Manager => false}};
agent_message({monitor, _Suspended, busy_dist_port, Port}, State) ->
    case get(numbat_busy) of
        undefined -> ok;
        Counts ->
            Peer = case [Node || {Node, P} <- erlang:system_info(dist_ctrl), P =:= Port] of
                       [Node | _] -> Node;
                       [] -> unknown
                   end,
            put(numbat_busy, maps:update_with(Peer, fun(N) -> N + 1 end, 1, Counts))
    end,
    State;
agent_message({busy_events, From, Ref}, State) ->
    From ! {Ref, case get(numbat_busy) of undefined -> unavailable; Counts -> maps:to_list(Counts) end},
    State;
agent_message(_, State) ->
    State.

agent_cleanup() ->
    %% The system monitor, if it is still this process's.
    Self = self(),
    case erlang:system_monitor() of
        {Self, _} -> erlang:system_monitor(undefined);
        _ -> ok
    end,
    unsubscribe().

agent_deleted() ->
    ok.

%% Adds the handler to alarm_handler and to every other manager that runs (supervised handlers:
%% they go when this process goes) and sends the owner the alarms each has already set.
subscribe(State = #{managers := Managers}) ->
    State1 = subscribe_sasl(State),
    State1#{managers := maps:map(fun(Manager, Subscribed) -> Subscribed orelse subscribe_to(Manager, State1) end, Managers)}.

subscribe_sasl(State = #{subscribed := true}) -> State;
subscribe_sasl(State = #{owner := Owner}) ->
    case add_handler(alarm_handler) of
        ok ->
            Current = try alarm_handler:get_alarms() catch _:_ -> [] end,
            Owner ! {numbat_alarms, sync, [Alarm || {_, _} = Alarm <- Current]},
            State#{subscribed := true};
        _ ->
            Owner ! {numbat_alarms, sync, unavailable},
            State
    end.

%% Another manager: its current alarms, then its events. The alarms come from a handler known to
%% answer get_alarms: one named as the manager (rabbit_alarm's) or SASL's alarm_handler module
%% added to it; no other handler is called (one that does not expect the call would crash).
subscribe_to(Manager, #{owner := Owner}) ->
    case add_handler(Manager) of
        ok ->
            Known = [H || H <- handlers(Manager), H =:= Manager orelse H =:= alarm_handler],
            Current = lists:append([current_alarms(Manager, H) || H <- Known]),
            Owner ! {numbat_manager_alarms, Manager, sync, [alarm(A) || A <- Current]},
            true;
        _ -> false
    end.

current_alarms(Manager, Handler) ->
    try gen_event:call(Manager, Handler, get_alarms, 5000) of
        {ok, List} when is_list(List) -> List;
        List when is_list(List) -> List;
        _ -> []
    catch _:_ -> []
    end.

handlers(Manager) ->
    try gen_event:which_handlers(Manager) catch _:_ -> [] end.

add_handler(Manager) ->
    case whereis(Manager) of
        undefined -> not_running;
        _ -> catch gen_event:add_sup_handler(Manager, {?MODULE, {self(), Manager}}, {self(), Manager})
    end.

alarm({Id, Description}) -> {Id, Description};
alarm(Id) -> {Id, []}.

%% The managers come from the agent's process dictionary: agent_cleanup/0 has no state.
unsubscribe() ->
    Managers = case get(numbat_managers) of L when is_list(L) -> L; _ -> [] end,
    [catch gen_event:delete_handler(M, {?MODULE, {self(), M}}, stop) || M <- [alarm_handler | Managers]],
    ok.

%% --- the handler: runs in the manager's process, so it only forwards ---

init({Agent, Manager}) -> {ok, {Agent, Manager}}.

handle_event({set_alarm, {Id, Description}}, {Agent, alarm_handler} = S) ->
    Agent ! {alarm, {numbat_alarms, set, Id, Description}},
    {ok, S};
handle_event({clear_alarm, Id}, {Agent, alarm_handler} = S) ->
    Agent ! {alarm, {numbat_alarms, clear, Id}},
    {ok, S};
handle_event({set_alarm, Alarm}, {Agent, Manager} = S) ->
    {Id, Description} = alarm(Alarm),
    Agent ! {alarm, {numbat_manager_alarms, Manager, set, Id, Description}},
    {ok, S};
handle_event({clear_alarm, Id}, {Agent, Manager} = S) ->
    Agent ! {alarm, {numbat_manager_alarms, Manager, clear, Id}},
    {ok, S};
handle_event(_, S) ->
    {ok, S}.

handle_call(_, Agent) -> {ok, ok, Agent}.
handle_info(_, Agent) -> {ok, Agent}.
terminate(_, _) -> ok.
code_change(_, Agent, _) -> {ok, Agent}.

%% --- the facts of the built-in checks ---

facts(Options) ->
    Threshold = maps:get(queue_threshold, Options, 10000),
    MaxScan = maps:get(max_scan, Options, 100000),
    MaxReported = maps:get(max_reported, Options, 10),
    {LongQueues, Biggest, Scanned} = scan(Threshold, MaxScan, MaxReported),
    {DistQueue, DistPeer} = fullest_dist_queue(),
    #{process_count => erlang:system_info(process_count),
      process_limit => erlang:system_info(process_limit),
      port_count => erlang:system_info(port_count),
      port_limit => erlang:system_info(port_limit),
      ets_count => ets_count(),
      ets_limit => erlang:system_info(ets_limit),
      atom_count => erlang:system_info(atom_count),
      atom_limit => erlang:system_info(atom_limit),
      memory_total => erlang:memory(total),
      system_memory => system_memory(),
      open_fds => open_fds(),
      max_fds => max_fds(),
      sockets => length([P || P <- erlang:ports(), is_socket(P)]),
      long_queues => LongQueues,
      queues_scanned => Scanned,
      biggest_process => Biggest,
      run_queue => erlang:statistics(run_queue),
      schedulers_online => erlang:system_info(schedulers_online),
      dist_queue_max => DistQueue,
      dist_queue_peer => DistPeer,
      dist_busy_limit => erlang:system_info(dist_buf_busy_limit),
      system_time_ms => os:system_time(millisecond),
      utc_offset_minutes => utc_offset_minutes(),
      system => #{otp_release => list_to_binary(erlang:system_info(otp_release)),
                  erts_version => list_to_binary(erlang:system_info(version)),
                  wordsize => erlang:system_info(wordsize)},
      shell_history => shell_history(),
      old_code => [M || {M, _} <- code:all_loaded(), erlang:check_old_code(M)],
      applications => [{App, iolist_to_binary(Vsn)} || {App, _, Vsn} <- application:which_applications(1000)],
      cpu_load => cpu_load(),
      logical_processors => case erlang:system_info(logical_processors) of N when is_integer(N) -> N; _ -> 1 end,
      disks => disks()}.

ets_count() ->
    try erlang:system_info(ets_count) catch _:_ -> length(ets:all()) end.

%% One pass over the processes: those with at least Threshold messages, longest first, and the
%% one using the most memory; skipped above MaxScan processes (bounded work per check).
scan(Threshold, MaxScan, MaxReported) ->
    case erlang:system_info(process_count) > MaxScan of
        true -> {[], undefined, false};
        false ->
            {Long, {Bytes, Big}} =
                lists:foldl(fun(Pid, {Acc, Biggest}) ->
                                    case erlang:process_info(Pid, [message_queue_len, memory]) of
                                        [{message_queue_len, Len}, {memory, Memory}] ->
                                            {case Len >= Threshold of true -> [{Len, Pid} | Acc]; false -> Acc end,
                                             max(Biggest, {Memory, Pid})};
                                        _ -> {Acc, Biggest}
                                    end
                            end, {[], {0, undefined}}, erlang:processes()),
            Top = lists:sublist(lists:reverse(lists:sort(Long)), MaxReported),
            Biggest = case Big of
                          undefined -> undefined;
                          _ -> (describe(Big, 0))#{memory => Bytes}
                      end,
            {[describe(Pid, Len) || {Len, Pid} <- Top], Biggest, true}
    end.

%% The fullest distribution buffer: bytes queued for one connected node, and that node.
fullest_dist_queue() ->
    Queues = [{Size, Node} || {Node, Port} <- erlang:system_info(dist_ctrl), is_port(Port),
                              {queue_size, Size} <- [erlang:port_info(Port, queue_size)]],
    case lists:max([{0, undefined} | Queues]) of
        {Size, Node} -> {Size, Node}
    end.

%% Minutes the node's local time is ahead of UTC (its time zone, summer time included).
utc_offset_minutes() ->
    Universal = calendar:universal_time(),
    Local = calendar:universal_time_to_local_time(Universal),
    (calendar:datetime_to_gregorian_seconds(Local) - calendar:datetime_to_gregorian_seconds(Universal)) div 60.

%% The shell history's size on disk and its cap (kernel's shell_history_file_bytes), when the
%% node keeps one (kernel's shell_history enabled): a full history drops its oldest commands.
shell_history() ->
    case application:get_env(kernel, shell_history) of
        {ok, enabled} ->
            Dir = case application:get_env(kernel, shell_history_path) of
                      {ok, Path} -> Path;
                      _ -> filename:basedir(user_cache, "erlang-history")
                  end,
            Limit = case application:get_env(kernel, shell_history_file_bytes) of
                        {ok, N} when is_integer(N) -> N;
                        _ -> 512 * 1024
                    end,
            Bytes = case file:list_dir(Dir) of
                        {ok, Files} -> lists:sum([filelib:file_size(filename:join(Dir, F)) || F <- lists:sublist(Files, 100)]);
                        _ -> 0
                    end,
            #{bytes => Bytes, limit => Limit};
        _ -> undefined
    end.

%% The module and export tables' entries and limits (+zmml, +zmel where the emulator has them),
%% read from erlang:system_info(info) at most once a minute: it is a ~100 KB text.
tables(State = #{tables := {Time, Tables}}) ->
    case erlang:monotonic_time(second) - Time < 60 of
        true -> {Tables, State};
        false -> tables(State#{tables := undefined})
    end;
tables(State) ->
    Info = try erlang:system_info(info) catch _:_ -> <<>> end,
    Found = case re:run(Info, "=index_table:(module_code|export_list)\nsize: \\d+\nlimit: (\\d+)\nentries: (\\d+)",
                        [global, {capture, all_but_first, binary}]) of
                {match, Matches} -> [{Table, binary_to_integer(L), binary_to_integer(E)} || [Table, L, E] <- Matches];
                _ -> []
            end,
    Tables = maps:from_list(lists:append([table(T, Found) || T <- [{<<"module_code">>, module}, {<<"export_list">>, export}]])),
    {Tables, State#{tables := {erlang:monotonic_time(second), Tables}}}.

table({Name, Key}, Found) ->
    case lists:keyfind(Name, 1, Found) of
        {_, Limit, Entries} -> [{list_to_atom(atom_to_list(Key) ++ "_count"), Entries},
                                {list_to_atom(atom_to_list(Key) ++ "_limit"), Limit}];
        false -> []
    end.

describe(Pid, Len) ->
    Name = case erlang:process_info(Pid, registered_name) of
               {registered_name, N} -> N;
               _ -> undefined
           end,
    Current = case erlang:process_info(Pid, current_function) of
                  {current_function, {M, F, A}} -> iolist_to_binary(io_lib:format("~s:~s/~b", [M, F, A]));
                  _ -> <<>>
              end,
    #{pid => list_to_binary(pid_to_list(Pid)), name => Name, length => Len, current_function => Current}.

is_socket(Port) ->
    case erlang:port_info(Port, name) of
        {name, Name} -> lists:member(Name, ["tcp_inet", "udp_inet", "sctp_inet"]);
        _ -> false
    end.

%% Bytes of RAM on the host: memsup's figure when os_mon runs, else Linux's /proc/meminfo.
system_memory() ->
    FromMemsup = case whereis(memsup) of
                     undefined -> undefined;
                     _ -> try proplists:get_value(system_total_memory, memsup:get_system_memory_data())
                          catch _:_ -> undefined end
                 end,
    case FromMemsup of
        N when is_integer(N) -> N;
        _ -> meminfo_total()
    end.

meminfo_total() ->
    case file:read_file("/proc/meminfo") of
        {ok, Text} ->
            case re:run(Text, "MemTotal:\\s+(\\d+) kB", [{capture, all_but_first, list}]) of
                {match, [KB]} -> list_to_integer(KB) * 1024;
                _ -> undefined
            end;
        _ -> undefined
    end.

%% Descriptors the emulator has open (Linux), and its limit.
open_fds() ->
    case file:list_dir("/proc/self/fd") of
        {ok, Entries} -> length(Entries);
        _ -> undefined
    end.

max_fds() ->
    %% One property list per poll set (OTP 21+), or one list on older emulators.
    Sets = case erlang:system_info(check_io) of [First | _] = All when is_list(First) -> All; One -> [One] end,
    case [N || Set <- Sets, {max_fds, N} <- Set, is_integer(N)] of
        [Max | _] -> Max;
        [] -> undefined
    end.

%% The one-minute load average: os_mon's (cpu_sup reports it times 256) when os_mon runs, else
%% Linux's /proc/loadavg; undefined elsewhere.
cpu_load() ->
    FromCpuSup = case whereis(cpu_sup) of
                     undefined -> undefined;
                     _ -> try cpu_sup:avg1() of
                              N when is_integer(N) -> N / 256;
                              _ -> undefined
                          catch _:_ -> undefined
                          end
                 end,
    case FromCpuSup of
        undefined -> loadavg();
        Load -> Load
    end.

loadavg() ->
    case file:read_file("/proc/loadavg") of
        {ok, <<Text:64/binary, _/binary>>} -> first_float(Text);
        {ok, Text} -> first_float(Text);
        _ -> undefined
    end.

first_float(Text) ->
    case binary:split(Text, <<" ">>) of
        [First | _] -> try binary_to_float(First) catch _:_ -> undefined end;
        _ -> undefined
    end.

%% os_mon's disks as [{MountPoint, PercentUsed}], when os_mon runs.
disks() ->
    case whereis(disksup) of
        undefined -> undefined;
        _ -> try [{unicode:characters_to_binary(Id), Capacity} || {Id, _KBytes, Capacity} <- disksup:get_disk_data(), Id =/= "none"]
             catch _:_ -> undefined
             end
    end.
