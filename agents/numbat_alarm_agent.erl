%% Numbat's alarm agent, loaded into managed nodes with code:load_binary/3 and started by Numbat.
%% Two jobs. It subscribes to SASL's alarm_handler (when SASL runs): the current alarms are sent
%% to the owner once (get_alarms/0), then every set and clear as it happens. And check/2 gathers
%% what Numbat's built-in alarms are judged on (counts and limits, memory, descriptors, long
%% message queues, old code, application versions, os_mon's CPU load and disks) in one bounded
%% pass. The agent monitors its Numbat-side owner and removes itself (handler, process, module)
%% when the owner or the connection goes. Written for OTP 25 through 28; compiled with OTP 25's
%% erlc +deterministic.
-module(numbat_alarm_agent).
-behaviour(gen_event).
-export([check/2]).
-export([init/1, handle_event/2, handle_call/2, handle_info/2, terminate/2, code_change/3]).

%% The agent's start/2 (Owner receives {numbat_alarms, sync, [{Id, Description}]}, or
%% {numbat_alarms, sync, unavailable} without SASL, then {numbat_alarms, set, Id, Description}
%% and {numbat_alarms, clear, Id}), stop/0 and owner monitor.
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

%% --- the agent process (see numbat_agent_skeleton.hrl) ---

%% The subscription comes first in the agent's mailbox, so start/2 answers before the owner's
%% sync (and never waits on alarm_handler).
agent_init(Owner, _Options) ->
    self() ! subscribe,
    #{owner => Owner, subscribed => false}.

agent_message(subscribe, State) ->
    subscribe(State);
agent_message({check, From, Ref, Options}, State) ->
    %% SASL may have started (or restarted) since: subscribe again first.
    State1 = subscribe(State),
    From ! {Ref, {ok, (facts(Options))#{sasl => maps:get(subscribed, State1)}}},
    State1;
agent_message({alarm, Event}, State) ->
    maps:get(owner, State) ! Event,
    State;
agent_message({gen_event_EXIT, {?MODULE, _}, _}, State) ->
    %% alarm_handler went away (SASL stopped) or dropped the handler.
    State#{subscribed := false};
agent_message(_, State) ->
    State.

agent_cleanup() ->
    unsubscribe().

agent_deleted() ->
    ok.

%% Adds the handler to alarm_handler (a supervised handler: it goes when this process goes) and
%% sends the owner the alarms already set.
subscribe(State = #{subscribed := true}) -> State;
subscribe(State = #{owner := Owner}) ->
    case whereis(alarm_handler) of
        undefined ->
            Owner ! {numbat_alarms, sync, unavailable},
            State;
        _ ->
            Handler = {?MODULE, self()},
            case catch gen_event:add_sup_handler(alarm_handler, Handler, self()) of
                ok ->
                    Current = try alarm_handler:get_alarms() catch _:_ -> [] end,
                    Owner ! {numbat_alarms, sync, [Alarm || {_, _} = Alarm <- Current]},
                    State#{subscribed := true};
                _ ->
                    Owner ! {numbat_alarms, sync, unavailable},
                    State
            end
    end.

unsubscribe() ->
    catch gen_event:delete_handler(alarm_handler, {?MODULE, self()}, stop),
    ok.

%% --- the alarm_handler handler: runs in alarm_handler's process, so it only forwards ---

init(Agent) -> {ok, Agent}.

handle_event({set_alarm, {Id, Description}}, Agent) ->
    Agent ! {alarm, {numbat_alarms, set, Id, Description}},
    {ok, Agent};
handle_event({clear_alarm, Id}, Agent) ->
    Agent ! {alarm, {numbat_alarms, clear, Id}},
    {ok, Agent};
handle_event(_, Agent) ->
    {ok, Agent}.

handle_call(_, Agent) -> {ok, ok, Agent}.
handle_info(_, Agent) -> {ok, Agent}.
terminate(_, _) -> ok.
code_change(_, Agent, _) -> {ok, Agent}.

%% --- the facts of the built-in checks ---

facts(Options) ->
    Threshold = maps:get(queue_threshold, Options, 10000),
    MaxScan = maps:get(max_scan, Options, 100000),
    MaxReported = maps:get(max_reported, Options, 10),
    {LongQueues, Scanned} = long_queues(Threshold, MaxScan, MaxReported),
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
      old_code => [M || {M, _} <- code:all_loaded(), erlang:check_old_code(M)],
      applications => [{App, iolist_to_binary(Vsn)} || {App, _, Vsn} <- application:which_applications(1000)],
      cpu_load => cpu_load(),
      logical_processors => case erlang:system_info(logical_processors) of N when is_integer(N) -> N; _ -> 1 end,
      disks => disks()}.

ets_count() ->
    try erlang:system_info(ets_count) catch _:_ -> length(ets:all()) end.

%% Processes with at least Threshold messages, longest first, with their registered name and
%% current function; the scan is skipped above MaxScan processes (bounded work per check).
long_queues(Threshold, MaxScan, MaxReported) ->
    case erlang:system_info(process_count) > MaxScan of
        true -> {[], false};
        false ->
            Long = lists:foldl(fun(Pid, Acc) ->
                                       case erlang:process_info(Pid, message_queue_len) of
                                           {message_queue_len, Len} when Len >= Threshold -> [{Len, Pid} | Acc];
                                           _ -> Acc
                                       end
                               end, [], erlang:processes()),
            Top = lists:sublist(lists:reverse(lists:sort(Long)), MaxReported),
            {[describe(Pid, Len) || {Len, Pid} <- Top], true}
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

%% os_mon's one-minute load average (cpu_sup reports it times 256), when os_mon runs.
cpu_load() ->
    case whereis(cpu_sup) of
        undefined -> undefined;
        _ -> try cpu_sup:avg1() of
                 N when is_integer(N) -> N / 256;
                 _ -> undefined
             catch _:_ -> undefined
             end
    end.

%% os_mon's disks as [{MountPoint, PercentUsed}], when os_mon runs.
disks() ->
    case whereis(disksup) of
        undefined -> undefined;
        _ -> try [{unicode:characters_to_binary(Id), Capacity} || {Id, _KBytes, Capacity} <- disksup:get_disk_data(), Id =/= "none"]
             catch _:_ -> undefined
             end
    end.
