%% The metrics agent's machine metrics read from Linux's /proc, for nodes that do not run os_mon
%% (most do not): load averages, machine memory and swap, CPU time shares, the kernel's counters
%% and the VM's own process (resident memory, threads). Four small files per collection, read
%% with file:read_file/1 and parsed here; nothing is started, nothing stays. Included by
%% numbat_metrics_agent.erl only (a header, so the agent's beam stays one module).

%% The /proc metrics and the CPU times to measure the next collection's shares against;
%% [] elsewhere than on Linux.
proc_metrics(PreviousCpu) ->
    case os:type() of
        {unix, linux} ->
            Stat = proc_table(read_proc("/proc/stat"), " ", [<<"cpu">>, <<"ctxt">>, <<"processes">>, <<"procs_running">>, <<"procs_blocked">>]),
            Times = cpu_times(Stat),
            Metrics = proc_load() ++ proc_memory() ++ proc_cpu(PreviousCpu, Times) ++ proc_kernel(Stat) ++ proc_self(),
            {[M || M = {_, V} <- Metrics, is_number(V)], Times};
        _ ->
            {[], PreviousCpu}
    end.

%% A /proc file's text; <<>> when it cannot be read (a container without /proc, say).
read_proc(File) ->
    case file:read_file(File) of
        {ok, Text} -> Text;
        _ -> <<>>
    end.

%% "0.52 0.58 0.59 2/345 6789": the first three fields.
proc_load() ->
    case binary:split(read_proc("/proc/loadavg"), <<" ">>, [global]) of
        [L1, L5, L15 | _] -> [{os_load1, proc_number(L1)}, {os_load5, proc_number(L5)}, {os_load15, proc_number(L15)}];
        _ -> []
    end.

proc_memory() ->
    Info = proc_table(read_proc("/proc/meminfo"), ":", [<<"MemTotal">>, <<"MemFree">>, <<"MemAvailable">>, <<"Buffers">>, <<"Cached">>,
                                                        <<"SwapTotal">>, <<"SwapFree">>]),
    [{os_memory_total, kilobytes(<<"MemTotal">>, Info)},
     {os_memory_free, kilobytes(<<"MemFree">>, Info)},
     {os_memory_available, kilobytes(<<"MemAvailable">>, Info)},
     {os_memory_buffered, kilobytes(<<"Buffers">>, Info)},
     {os_memory_cached, kilobytes(<<"Cached">>, Info)},
     {os_swap_total, kilobytes(<<"SwapTotal">>, Info)},
     {os_swap_free, kilobytes(<<"SwapFree">>, Info)}].

%% The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal, in
%% clock ticks since boot.
cpu_times(Stat) ->
    case lists:keyfind(<<"cpu">>, 1, Stat) of
        {_, Fields} ->
            Ticks = [N || N <- [proc_number(F) || F <- lists:sublist(Fields, 8)], is_integer(N)],
            Ticks ++ lists:duplicate(8 - length(Ticks), 0);
        false -> lists:duplicate(8, 0)
    end.

%% Busy, iowait and steal shares (percent, as cpu_sup:util/0) since the previous collection, or
%% since boot at the first.
proc_cpu(Previous, Current) ->
    [User, Nice, System, Idle, IoWait, Irq, SoftIrq, Steal] = [C - P || {C, P} <- lists:zip(Current, Previous)],
    Total = User + Nice + System + Idle + IoWait + Irq + SoftIrq + Steal,
    Share = fun(Part) when Total > 0 -> 100 * Part / Total; (_) -> 0.0 end,
    [{os_cpu_utilization, Share(Total - Idle - IoWait)},
     {os_cpu_iowait, Share(IoWait)},
     {os_cpu_steal, Share(Steal)}].

proc_kernel(Stat) ->
    [{os_context_switches, first_number(<<"ctxt">>, Stat)},
     {os_processes_created, first_number(<<"processes">>, Stat)},
     {os_processes_running, first_number(<<"procs_running">>, Stat)},
     {os_processes_blocked, first_number(<<"procs_blocked">>, Stat)}].

%% The VM's own OS process.
proc_self() ->
    Status = proc_table(read_proc("/proc/self/status"), ":", [<<"VmRSS">>, <<"VmHWM">>, <<"VmSize">>, <<"Threads">>]),
    [{os_process_resident_memory, kilobytes(<<"VmRSS">>, Status)},
     {os_process_resident_memory_peak, kilobytes(<<"VmHWM">>, Status)},
     {os_process_virtual_memory, kilobytes(<<"VmSize">>, Status)},
     {os_process_threads, first_number(<<"Threads">>, Status)}].

%% The Wanted lines of a /proc file as [{Key, [Field]}]: the key ends at Separator, the fields
%% are the words after it. Other lines are not split (/proc/stat's "intr" line has thousands).
proc_table(Text, Separator, Wanted) ->
    [{Key, string:lexemes(Rest, " \t")}
     || Line <- binary:split(Text, <<"\n">>, [global]),
        [Key, Rest] <- [binary:split(Line, list_to_binary(Separator))],
        lists:member(Key, Wanted)].

%% "MemTotal:  16318480 kB" in bytes.
kilobytes(Key, Table) ->
    case lists:keyfind(Key, 1, Table) of
        {_, [N, <<"kB">>]} -> case proc_number(N) of V when is_integer(V) -> V * 1024; _ -> undefined end;
        _ -> undefined
    end.

first_number(Key, Table) ->
    case lists:keyfind(Key, 1, Table) of
        {_, [N | _]} -> proc_number(N);
        _ -> undefined
    end.

proc_number(Text) ->
    try binary_to_integer(Text)
    catch error:badarg ->
            try binary_to_float(Text) catch error:badarg -> undefined end
    end.
