%% Numbat's metrics agent, loaded into managed nodes with code:load_binary/3 and started by
%% Numbat. One collect/1 call returns every built-in metric (one round trip per cycle). The agent
%% monitors its Numbat-side owner and removes itself (process, logger handler, scheduler
%% wall-time flag, module) when the owner or the connection goes: nothing stays on the node.
%% Written for OTP 25 through 28; compiled with OTP 25's erlc +deterministic.
-module(numbat_metrics_agent).
-export([collect/1, log/2, adding_handler/1, removing_handler/1]).

-define(HANDLER, numbat_log_counter).
-define(LEVELS, [emergency, alert, critical, error, warning, notice, info, debug]).
%% The allocators whose carriers are reported one by one, and the metric of each.
-define(ALLOCATOR_METRICS, [{binary_alloc, allocator_binary_carriers_bytes}, {eheap_alloc, allocator_eheap_carriers_bytes},
                            {ets_alloc, allocator_ets_carriers_bytes}, {ll_alloc, allocator_ll_carriers_bytes},
                            {std_alloc, allocator_std_carriers_bytes}, {sl_alloc, allocator_sl_carriers_bytes},
                            {temp_alloc, allocator_temp_carriers_bytes}, {fix_alloc, allocator_fix_carriers_bytes},
                            {driver_alloc, allocator_driver_carriers_bytes}, {literal_alloc, allocator_literal_carriers_bytes}]).

%% start/2 (Options: #{max_scan => N} bounds the process scan for the largest message queue),
%% stop/0 and the owner monitor.
-include("numbat_agent_skeleton.hrl").

%% proc_metrics/1: the machine from Linux's /proc where os_mon does not run.
-include("numbat_metrics_proc.hrl").

%% Every built-in metric as [{Name, Value}] plus #{largest_queue_process => ...} details;
%% {error, not_running} if the agent is not there.
collect(Timeout) ->
    case whereis(?MODULE) of
        undefined -> {error, not_running};
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! {collect, self(), Ref},
            receive
                {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
                {'DOWN', Ref, process, Pid, Reason} -> {error, Reason}
            after Timeout -> demonitor(Ref, [flush]), {error, timeout}
            end
    end.

%% --- the agent process (see numbat_agent_skeleton.hrl) ---

agent_init(Owner, Options) ->
    erlang:system_flag(scheduler_wall_time, true),
    Counters = counters:new(length(?LEVELS), [write_concurrency]),
    persistent_term:put(?HANDLER, Counters),
    ok = logger_change(fun() ->
                               _ = logger:remove_handler(?HANDLER),
                               logger:add_handler(?HANDLER, ?MODULE, #{level => all})
                       end),
    #{owner => Owner, options => Options, wall => erlang:statistics(scheduler_wall_time_all), cpu => lists:duplicate(8, 0)}.

agent_message({collect, From, Ref}, State) ->
    {Metrics, State1} = metrics(State),
    From ! {Ref, {ok, Metrics}},
    State1;
agent_message(_, State) ->
    State.

agent_cleanup() ->
    _ = logger_change(fun() -> logger:remove_handler(?HANDLER) end),
    _ = persistent_term:erase(?HANDLER),
    ok.

agent_deleted() ->
    ok.

%% Changes to logger's handlers, one at a time on this node among Numbat's agents: OTP's
%% logger loses one of two handler removals made at the same moment (the id stays listed in
%% logger:get_handler_ids/0), and Numbat's two agents go away together.
logger_change(Fun) ->
    global:trans({numbat_logger_change, self()}, Fun, [node()], infinity).

%% --- logger handler: counts events per level, nothing else ---

adding_handler(Config) -> {ok, Config}.
removing_handler(_Config) -> ok.

log(#{level := Level}, _Config) ->
    case persistent_term:get(?HANDLER, undefined) of
        undefined -> ok;
        Counters -> counters:add(Counters, level_index(Level), 1)
    end.

level_index(Level) -> level_index(Level, ?LEVELS, 1).
level_index(Level, [Level | _], N) -> N;
level_index(Level, [_ | Rest], N) -> level_index(Level, Rest, N + 1);
level_index(_, [], _) -> 1.

%% --- the metrics ---

metrics(State = #{options := Options, wall := PreviousWall, cpu := PreviousCpu}) ->
    Wall = erlang:statistics(scheduler_wall_time_all),
    Memory = erlang:memory(),
    {Reductions, _} = erlang:statistics(reductions),
    {ExactReductions, _} = erlang:statistics(exact_reductions),
    ActiveTasks = erlang:statistics(active_tasks_all),
    {ActiveNormal, ActiveDirty} = lists:split(erlang:system_info(schedulers), ActiveTasks),
    {ActiveDirtyCpu, ActiveDirtyIo} = case ActiveDirty of [C, D | _] -> {C, D}; _ -> {0, 0} end,
    {EtsObjects, EtsLargest, EtsLargestWords} = ets_sizes(),
    {ContextSwitches, _} = erlang:statistics(context_switches),
    {{input, In}, {output, Out}} = erlang:statistics(io),
    {GCs, Reclaimed, _} = erlang:statistics(garbage_collection),
    {Runtime, _} = erlang:statistics(runtime),
    {WallClock, _} = erlang:statistics(wall_clock),
    RunQueues = erlang:statistics(run_queue_lengths_all),
    Schedulers = erlang:system_info(schedulers),
    DirtyCpu = erlang:system_info(dirty_cpu_schedulers),
    {NormalQueues, DirtyQueues} = lists:split(Schedulers, RunQueues),
    {DirtyCpuQueue, DirtyIoQueue} = case DirtyQueues of [A, B | _] -> {A, B}; _ -> {0, 0} end,
    Utilization = utilization(PreviousWall, Wall, Schedulers, DirtyCpu),
    Ports = port_types(),
    {LargestQueue, LargestQueueProcess, TotalQueued, LargestHeap, Waiting} = scan_processes(maps:get(max_scan, Options, 200000)),
    Dist = dist_links(),
    BusyLimit = erlang:system_info(dist_buf_busy_limit),
    {Machine, Cpu} = os_metrics(PreviousCpu),
    PersistentTerm = persistent_term:info(),
    Metrics =
        [{memory_total, proplists:get_value(total, Memory)},
         {memory_processes, proplists:get_value(processes, Memory)},
         {memory_processes_used, proplists:get_value(processes_used, Memory)},
         {memory_system, proplists:get_value(system, Memory)},
         {memory_atom, proplists:get_value(atom, Memory)},
         {memory_atom_used, proplists:get_value(atom_used, Memory)},
         {memory_binary, proplists:get_value(binary, Memory)},
         {memory_code, proplists:get_value(code, Memory)},
         {memory_ets, proplists:get_value(ets, Memory)},
         {memory_persistent_term, maps:get(memory, PersistentTerm)},
         {persistent_terms, maps:get(count, PersistentTerm)},
         {process_count, erlang:system_info(process_count)},
         {process_limit, erlang:system_info(process_limit)},
         {port_count, erlang:system_info(port_count)},
         {port_limit, erlang:system_info(port_limit)},
         {atom_count, erlang:system_info(atom_count)},
         {atom_limit, erlang:system_info(atom_limit)},
         {ets_count, erlang:system_info(ets_count)},
         {ets_limit, erlang:system_info(ets_limit)},
         {ets_objects_total, EtsObjects},
         {ets_largest_table_objects, EtsLargest},
         {ets_largest_table_words, EtsLargestWords},
         {run_queue, lists:sum(RunQueues)},
         {run_queue_cpu, lists:sum(NormalQueues)},
         {run_queue_max, lists:max([0 | NormalQueues])},
         {run_queue_dirty_cpu, DirtyCpuQueue},
         {run_queue_dirty_io, DirtyIoQueue},
         {active_tasks, lists:sum(ActiveNormal)},
         {active_tasks_dirty_cpu, ActiveDirtyCpu},
         {active_tasks_dirty_io, ActiveDirtyIo},
         {reductions, Reductions},
         {exact_reductions, ExactReductions},
         {context_switches, ContextSwitches},
         {io_input_bytes, In},
         {io_output_bytes, Out},
         {gc_count, GCs},
         {gc_words_reclaimed, Reclaimed},
         {runtime_ms, Runtime},
         {wall_clock_ms, WallClock},
         {uptime_seconds, WallClock div 1000},
         {scheduler_utilization, maps:get(total, Utilization)},
         {scheduler_utilization_cpu, maps:get(cpu, Utilization)},
         {scheduler_utilization_dirty_cpu, maps:get(dirty_cpu, Utilization)},
         {scheduler_utilization_dirty_io, maps:get(dirty_io, Utilization)},
         {ports_tcp, maps:get(tcp, Ports)},
         {ports_udp, maps:get(udp, Ports)},
         {ports_sctp, maps:get(sctp, Ports)},
         {ports_file, maps:get(file, Ports)},
         {ports_pipe, maps:get(pipe, Ports)},
         {ports_other, maps:get(other, Ports)},
         {logical_processors, undefined_to_zero(erlang:system_info(logical_processors))},
         {logical_processors_available, undefined_to_zero(erlang:system_info(logical_processors_available))},
         {logical_processors_online, undefined_to_zero(erlang:system_info(logical_processors_online))},
         {schedulers, Schedulers},
         {schedulers_online, erlang:system_info(schedulers_online)},
         {dirty_cpu_schedulers, DirtyCpu},
         {dirty_cpu_schedulers_online, erlang:system_info(dirty_cpu_schedulers_online)},
         {dirty_io_schedulers, erlang:system_info(dirty_io_schedulers)},
         {thread_pool_size, erlang:system_info(thread_pool_size)},
         {loaded_modules, length(code:all_loaded())},
         {dist_nodes, length(nodes(visible))},
         {dist_hidden_nodes, length(nodes(hidden))},
         {dist_queue_bytes_total, lists:sum([Q || {_, Q, _, _} <- Dist])},
         {dist_queue_bytes_max, lists:max([0 | [Q || {_, Q, _, _} <- Dist]])},
         {dist_buffer_busy_limit, BusyLimit},
         {dist_busy_peers, length([Q || {_, Q, _, _} <- Dist, Q >= BusyLimit])},
         {dist_sent_bytes, lists:sum([S || {_, _, S, _} <- Dist])},
         {dist_received_bytes, lists:sum([R || {_, _, _, R} <- Dist])},
         {word_size, erlang:system_info(wordsize)},
         {otp_release, safe(fun() -> list_to_integer(erlang:system_info(otp_release)) end)},
         {message_queue_max, LargestQueue},
         {message_queue_total, TotalQueued},
         {processes_with_messages, Waiting},
         {process_heap_max_words, LargestHeap}]
        ++ allocator_metrics() ++ log_counts() ++ mnesia_metrics() ++ Machine,
    MaxLibrary = maps:get(max_library_metrics, Options, 2000),
    {Folsom, FolsomHistograms} = folsom_metrics(MaxLibrary),
    {Exometer, ExometerHistograms} = exometer_metrics(MaxLibrary),
    Details = #{largest_queue_process => LargestQueueProcess,
                dist_queue_bytes => maps:from_list([{N, Q} || {N, Q, _, _} <- Dist]),
                dist_links => maps:from_list([{N, #{queue_bytes => Q, sent_bytes => S, received_bytes => R}} || {N, Q, S, R} <- Dist]),
                histograms => FolsomHistograms ++ ExometerHistograms},
    {{[M || M = {_, V} <- Metrics, is_number(V)] ++ Folsom ++ Exometer, Details}, State#{wall := Wall, cpu := Cpu}}.

undefined_to_zero(unknown) -> 0;
undefined_to_zero(N) when is_integer(N) -> N;
undefined_to_zero(_) -> 0.

%% Busy fraction (0..1) per scheduler kind since the previous collection.
utilization(Previous, Current, Schedulers, DirtyCpu) when is_list(Previous), is_list(Current) ->
    Deltas = [{Id, A1 - A0, T1 - T0} || {{Id, A1, T1}, {Id, A0, T0}} <- lists:zip(lists:sort(Current), lists:sort(Previous))],
    Share = fun(Filter) ->
                    {Active, Total} = lists:foldl(fun({Id, A, T}, {SA, ST}) ->
                                                          case Filter(Id) of true -> {SA + A, ST + T}; false -> {SA, ST} end
                                                  end, {0, 0}, Deltas),
                    case Total of 0 -> 0.0; _ -> Active / Total end
            end,
    #{total => Share(fun(_) -> true end),
      cpu => Share(fun(Id) -> Id =< Schedulers end),
      dirty_cpu => Share(fun(Id) -> Id > Schedulers andalso Id =< Schedulers + DirtyCpu end),
      dirty_io => Share(fun(Id) -> Id > Schedulers + DirtyCpu end)};
utilization(_, _, _, _) ->
    #{total => 0.0, cpu => 0.0, dirty_cpu => 0.0, dirty_io => 0.0}.

port_types() ->
    lists:foldl(fun(Port, Acc) ->
                        Kind = case erlang:port_info(Port, name) of
                                   {name, "tcp_inet"} -> tcp;
                                   {name, "udp_inet"} -> udp;
                                   {name, "sctp_inet"} -> sctp;
                                   {name, "efile"} -> file;
                                   {name, "spawn" ++ _} -> pipe;
                                   {name, Name} when is_list(Name) ->
                                       case lists:prefix("/", Name) of true -> pipe; false -> other end;
                                   _ -> other
                               end,
                        maps:update_with(Kind, fun(N) -> N + 1 end, Acc)
                end, #{tcp => 0, udp => 0, sctp => 0, file => 0, pipe => 0, other => 0}, erlang:ports()).

%% The longest message queue, its process (with its registered name, if any), the sum of all
%% queues, the largest heap and how many processes have messages waiting; skipped (zeros) above
%% MaxScan processes so one collection never costs the node much.
scan_processes(MaxScan) ->
    case erlang:system_info(process_count) > MaxScan of
        true -> {0, undefined, 0, 0, 0};
        false ->
            {Max, MaxPid, Total, Heap, Waiting} =
                lists:foldl(fun(Pid, {Max, MaxPid, Total, Heap, Waiting}) ->
                                    case erlang:process_info(Pid, [message_queue_len, total_heap_size]) of
                                        [{message_queue_len, Len}, {total_heap_size, Size}] ->
                                            {NewMax, NewPid} = case Len > Max of true -> {Len, Pid}; false -> {Max, MaxPid} end,
                                            {NewMax, NewPid, Total + Len, max(Heap, Size), Waiting + min(Len, 1)};
                                        undefined -> {Max, MaxPid, Total, Heap, Waiting}
                                    end
                            end, {0, undefined, 0, 0, 0}, erlang:processes()),
            {Max, describe(MaxPid), Total, Heap, Waiting}
    end.

describe(undefined) -> undefined;
describe(Pid) ->
    case erlang:process_info(Pid, registered_name) of
        {registered_name, Name} -> {Pid, Name};
        _ -> {Pid, undefined}
    end.

%% Objects in all ETS tables, and the largest table by objects and by words.
ets_sizes() ->
    lists:foldl(fun(Table, {Objects, Largest, Words}) ->
                        case {ets:info(Table, size), ets:info(Table, memory)} of
                            {Size, Memory} when is_integer(Size), is_integer(Memory) ->
                                {Objects + Size, max(Largest, Size), max(Words, Memory)};
                            _ -> {Objects, Largest, Words}
                        end
                end, {0, 0, 0}, ets:all()).

%% {Node, QueuedBytes, SentBytes, ReceivedBytes} for each connected node whose distribution
%% runs over a port (inet_tcp_dist): the port's queue and its socket's byte counters (zeros
%% where the port is no inet socket). One port_info and one getstat per peer.
dist_links() ->
    [{Node, Size, Sent, Received}
     || {Node, Port} <- erlang:system_info(dist_ctrl), is_port(Port),
        {queue_size, Size} <- [erlang:port_info(Port, queue_size)],
        {Sent, Received} <- [socket_octets(Port)]].

socket_octets(Port) ->
    case catch inet:getstat(Port, [send_oct, recv_oct]) of
        {ok, Stats} -> {proplists:get_value(send_oct, Stats, 0), proplists:get_value(recv_oct, Stats, 0)};
        _ -> {0, 0}
    end.

%% Carriers (memory the VM's allocators hold from the OS) and the blocks in use in them, over
%% every instance of the alloc_util allocators: one erlang:system_info/1 call, about 10 entries
%% per scheduler. Allocators a node disabled (+M<x>e false) count no carriers.
allocator_metrics() ->
    Allocators = safe_list(fun() -> erlang:system_info(alloc_util_allocators) end),
    Sizes = case Allocators of
                [] -> [];
                _ -> safe_list(fun() -> erlang:system_info({allocator_sizes, Allocators}) end)
            end,
    PerAllocator = [{Allocator, allocator_totals(Instances)} || {Allocator, Instances} <- Sizes, is_list(Instances)],
    Sum = fun(Pick) -> lists:sum([Pick(Totals) || {_, Totals} <- PerAllocator]) end,
    Mbcs = Sum(fun({M, _, _}) -> M end),
    Sbcs = Sum(fun({_, S, _}) -> S end),
    Blocks = Sum(fun({_, _, B}) -> B end),
    Carriers = fun(Allocator) ->
                       case lists:keyfind(Allocator, 1, PerAllocator) of
                           {_, {M, S, _}} -> M + S;
                           false -> 0
                       end
               end,
    [{allocator_carriers_bytes, Mbcs + Sbcs},
     {allocator_blocks_bytes, Blocks},
     {allocator_usage, case Mbcs + Sbcs of 0 -> 0.0; All -> Blocks / All end},
     {allocator_mbcs_carriers_bytes, Mbcs},
     {allocator_sbcs_carriers_bytes, Sbcs}]
    ++ [{Metric, Carriers(Allocator)} || {Allocator, Metric} <- ?ALLOCATOR_METRICS].

%% {MultiBlockCarrierBytes, SingleBlockCarrierBytes, BlockBytes} of one allocator's instances;
%% the carrier pool (abandoned multi-block carriers) counts as multi-block carriers.
allocator_totals(Instances) ->
    lists:foldl(fun({instance, _, Parts}, {M, S, B}) when is_list(Parts) ->
                        Part = fun(Kind) -> carriers_and_blocks(proplists:get_value(Kind, Parts, [])) end,
                        {M1, B1} = Part(mbcs),
                        {P1, B2} = Part(mbcs_pool),
                        {S1, B3} = Part(sbcs),
                        {M + M1 + P1, S + S1, B + B1 + B2 + B3};
                   (_, Acc) -> Acc
                end, {0, 0, 0}, Instances).

%% [{blocks, [{Allocator, [{size, Now, ...}, ...]}]}, {carriers_size, Now, ...}]: the carriers'
%% size now and that of the blocks in them (blocks of any allocator, as carriers migrate).
carriers_and_blocks(Part) when is_list(Part) ->
    Carriers = case lists:keyfind(carriers_size, 1, Part) of
                   Tuple when is_tuple(Tuple), tuple_size(Tuple) >= 2, is_integer(element(2, Tuple)) -> element(2, Tuple);
                   _ -> 0
               end,
    Blocks = case lists:keyfind(blocks, 1, Part) of
                 {blocks, PerOwner} when is_list(PerOwner) ->
                     lists:sum([Size || {_, Stats} <- PerOwner, is_list(Stats),
                                        {size, Size} <- [size_now(Stats)], is_integer(Size)]);
                 _ -> 0
             end,
    {Carriers, Blocks};
carriers_and_blocks(_) ->
    {0, 0}.

size_now(Stats) ->
    case lists:keyfind(size, 1, Stats) of
        Tuple when is_tuple(Tuple), tuple_size(Tuple) >= 2 -> {size, element(2, Tuple)};
        _ -> none
    end.

log_counts() ->
    case persistent_term:get(?HANDLER, undefined) of
        undefined -> [];
        Counters -> [{list_to_atom("log_" ++ atom_to_list(Level)), counters:get(Counters, I)}
                     || {I, Level} <- lists:zip(lists:seq(1, length(?LEVELS)), ?LEVELS)]
    end.

mnesia_metrics() ->
    case lists:keymember(mnesia, 1, application:which_applications()) of
        false -> [];
        true ->
            try
                [{mnesia_transaction_commits, mnesia:system_info(transaction_commits)},
                 {mnesia_transaction_failures, mnesia:system_info(transaction_failures)},
                 {mnesia_transaction_restarts, mnesia:system_info(transaction_restarts)},
                 {mnesia_transaction_log_writes, mnesia:system_info(transaction_log_writes)},
                 {mnesia_held_locks, length(mnesia:system_info(held_locks))},
                 {mnesia_lock_queue, length(mnesia:system_info(lock_queue))}]
            catch _:_ -> []
            end
    end.

%% The machine: os_mon's values where it runs, the rest (and all of them without os_mon) from
%% /proc on Linux.
os_metrics(PreviousCpu) ->
    OsMon = os_mon_metrics(),
    {Proc, Cpu} = proc_metrics(PreviousCpu),
    {OsMon ++ [M || M = {Name, _} <- Proc, not lists:keymember(Name, 1, OsMon)], Cpu}.

os_mon_metrics() ->
    case lists:keymember(os_mon, 1, application:which_applications()) of
        false -> [];
        true ->
            Memory = try memsup:get_system_memory_data() catch _:_ -> [] end,
            Disks = try disksup:get_disk_data() catch _:_ -> [] end,
            lists:filter(fun({_, V}) -> is_number(V) end,
                         [{os_cpu_utilization, safe(fun() -> cpu_sup:util() end)},
                          {os_load1, safe(fun() -> cpu_sup:avg1() / 256 end)},
                          {os_load5, safe(fun() -> cpu_sup:avg5() / 256 end)},
                          {os_load15, safe(fun() -> cpu_sup:avg15() / 256 end)},
                          {os_memory_total, proplists:get_value(system_total_memory, Memory)},
                          {os_memory_free, proplists:get_value(free_memory, Memory)},
                          {os_memory_available, proplists:get_value(available_memory, Memory)},
                          {os_memory_buffered, proplists:get_value(buffered_memory, Memory)},
                          {os_memory_cached, proplists:get_value(cached_memory, Memory)},
                          {os_disk_max_used_percent, lists:max([0 | [P || {_, _, P} <- Disks]])}])
    end.

safe(Fun) -> try Fun() catch _:_ -> undefined end.

%% --- Folsom and Exometer: every metric of the libraries that run, flattened ---
%% Names are binaries (<<"folsom.Name.field">>), never atoms: a node's own metric names must
%% not grow its atom table. At most Max metrics per library per collection.

folsom_metrics(Max) ->
    case running(folsom) of
        false -> {[], []};
        true ->
            Infos = lists:sublist(safe_list(fun() -> folsom_metrics:get_metrics_info() end), Max),
            lists:foldl(fun({Name, Info}, {Values, Histograms}) ->
                                Base = <<"folsom.", (name_text(Name))/binary>>,
                                Type = proplists:get_value(type, Info),
                                {V, H} = folsom_values(Type, Name, Base),
                                {V ++ Values, H ++ Histograms}
                        end, {[], []}, Infos)
    end.

folsom_values(Type, Name, Base) when Type =:= counter; Type =:= gauge ->
    case safe(fun() -> folsom_metrics:get_metric_value(Name) end) of
        V when is_number(V) -> {[{Base, V}], []};
        _ -> {[], []}
    end;
folsom_values(Type, Name, Base) when Type =:= meter; Type =:= meter_reader; Type =:= spiral ->
    Fields = safe_list(fun() -> folsom_metrics:get_metric_value(Name) end),
    {[{field(Base, K), V} || {K, V} <- Fields, is_atom(K), is_number(V)], []};
folsom_values(Type, Name, Base) when Type =:= histogram; Type =:= duration ->
    Stats = case Type of
                histogram -> safe_list(fun() -> folsom_metrics:get_histogram_statistics(Name) end);
                duration -> safe_list(fun() -> folsom_metrics:get_metric_value(Name) end)
            end,
    {statistics(Base, Stats), histogram(Base, proplists:get_value(histogram, Stats, []))};
folsom_values(_, _, _) ->
    {[], []}.

exometer_metrics(Max) ->
    case running(exometer_core) orelse running(exometer) of
        false -> {[], []};
        true ->
            Entries = lists:sublist(safe_list(fun() -> exometer:find_entries([]) end), Max),
            lists:foldl(fun({Name, Type, enabled}, {Values, Histograms}) ->
                                Base = <<"exometer.", (name_text(Name))/binary>>,
                                Points = case safe(fun() -> exometer:get_value(Name) end) of
                                             {ok, DataPoints} when is_list(DataPoints) -> DataPoints;
                                             _ -> []
                                         end,
                                V = [{field(Base, K), X} || {K, X} <- Points, is_number(X)],
                                H = case Type of
                                        histogram -> [{Base, [{K, X} || {K, X} <- Points, is_integer(K), is_number(X)]}];
                                        _ -> []
                                    end,
                                {V ++ Values, H ++ Histograms};
                           (_, Acc) -> Acc
                        end, {[], []}, Entries)
    end.

%% Histogram statistics as numbers: min, max, mean, median, stddev, n, pNN.
statistics(Base, Stats) ->
    Plain = [{field(Base, rename(K)), V} || {K, V} <- Stats, is_atom(K), is_number(V),
                                            not lists:member(K, [geometric_mean, harmonic_mean, skewness, kurtosis])],
    Percentiles = [{field(Base, P), V} || {P, V} <- proplists:get_value(percentile, Stats, []), is_integer(P), is_number(V)],
    Plain ++ Percentiles.

%% The histogram's buckets ({UpperBound, Count}), for histogram views.
histogram(_, []) -> [];
histogram(Base, Buckets) -> [{Base, [{B, C} || {B, C} <- Buckets, is_number(B), is_number(C)]}].

rename(arithmetic_mean) -> mean;
rename(standard_deviation) -> stddev;
rename(Other) -> Other.

field(Base, Key) when is_integer(Key) -> <<Base/binary, ".p", (integer_to_binary(Key))/binary>>;
field(Base, Key) when is_atom(Key) -> <<Base/binary, ".", (atom_to_binary(Key, utf8))/binary>>.

name_text(Name) when is_atom(Name) -> atom_to_binary(Name, utf8);
name_text(Name) when is_binary(Name) -> Name;
name_text(Name) when is_list(Name) ->
    case io_lib:printable_unicode_list(Name) of
        true -> unicode:characters_to_binary(Name);
        false -> iolist_to_binary(lists:join(".", [name_text(Part) || Part <- Name]))
    end;
name_text(Name) when is_integer(Name) -> integer_to_binary(Name);
name_text(Name) -> iolist_to_binary(io_lib:format("~w", [Name])).

running(Application) -> lists:keymember(Application, 1, application:which_applications()).

safe_list(Fun) ->
    case safe(Fun) of
        List when is_list(List) -> List;
        _ -> []
    end.
