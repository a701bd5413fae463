%% Numbat's command agent: the safe, read-only explorers of a node (top processes, one
%% process's info, ETS tables), each one bounded pass. Loaded into managed nodes with
%% code:load_binary/3; start/2 leaves a small process that monitors the Numbat-side owner and
%% removes the module when the owner or the connection goes (numbat_agent_skeleton.hrl).
%% Written for OTP 25 through 28; compiled with OTP 25's erlc +deterministic.
-module(numbat_command_agent).
-export([top/3, process/1, ets_tables/2]).

-define(LIST_CAP, 100).

%% start/2, stop/0 and the owner monitor; the agent process holds nothing but the module.
-include("numbat_agent_skeleton.hrl").

agent_init(_Owner, _Options) -> none.
agent_message(_, State) -> State.
agent_cleanup() -> ok.
agent_deleted() -> ok.

%% The Limit processes with the most Key (memory, reductions or message_queue_len); refused
%% on nodes with more than MaxScan processes, so one call never costs a node much.
top(Key, Limit, MaxScan) when Key =:= memory; Key =:= reductions; Key =:= message_queue_len ->
    case erlang:system_info(process_count) > MaxScan of
        true -> {error, too_many_processes};
        false ->
            Values = [{Value, Pid} || Pid <- erlang:processes(), {_, Value} <- [erlang:process_info(Pid, Key)]],
            {ok, summaries(lists:reverse(lists:sort(Values)), Limit)}
    end.

%% The first Limit of the sorted processes still alive: one that exits between the scan and its
%% summary is skipped, so the list stays full.
summaries(_, 0) -> [];
summaries([], _) -> [];
summaries([{_, Pid} | Rest], Limit) ->
    case summary(Pid) of
        undefined -> summaries(Rest, Limit);
        Summary -> [Summary | summaries(Rest, Limit - 1)]
    end.

summary(Pid) ->
    case erlang:process_info(Pid, [registered_name, memory, reductions, message_queue_len, current_function, initial_call]) of
        undefined -> undefined;
        Info -> maps:from_list([{pid, text(Pid)}, {initial_call, initial_call(Pid, Info)} | [printable(I) || I <- Info, element(1, I) =/= initial_call]])
    end.

%% One process's info, without its messages or dictionary (they may be huge, or secret).
process(PidText) when is_binary(PidText) ->
    try list_to_pid(binary_to_list(PidText)) of
        Pid ->
            Keys = [registered_name, status, memory, reductions, message_queue_len, current_function, initial_call,
                    links, monitors, monitored_by, trap_exit, priority, heap_size, total_heap_size, stack_size,
                    group_leader, current_stacktrace],
            case erlang:process_info(Pid, Keys) of
                undefined -> {error, no_such_process};
                Info -> {ok, maps:from_list([{pid, text(Pid)}, {initial_call, initial_call(Pid, Info)}
                                             | [printable(I) || I <- Info, element(1, I) =/= initial_call]])}
            end
    catch error:badarg -> {error, bad_pid}
    end.

%% The Limit largest ETS tables by Key (memory or size).
ets_tables(Key, Limit) when Key =:= memory; Key =:= size ->
    Word = erlang:system_info(wordsize),
    Tables = lists:filtermap(fun(Table) ->
                                     case ets:info(Table) of
                                         undefined -> false;
                                         Info ->
                                             Get = fun(K) -> proplists:get_value(K, Info) end,
                                             {true, #{id => text(Table), name => Get(name), size => Get(size),
                                                      memory => Get(memory) * Word, owner => text(Get(owner)),
                                                      type => Get(type), protection => Get(protection)}}
                                     end
                             end, ets:all()),
    Sorted = lists:sort(fun(A, B) -> maps:get(Key, A) >= maps:get(Key, B) end, Tables),
    {ok, lists:sublist(Sorted, Limit)}.

%% proc_lib's processes report where they really started (gen_server callbacks...).
initial_call(Pid, Info) ->
    Call = case proplists:get_value(initial_call, Info) of
               {proc_lib, init_p, 5} -> proc_lib:translate_initial_call(Pid);
               Other -> Other
           end,
    mfa(Call).

printable({registered_name, []}) -> {registered_name, undefined};
printable({current_function, MFA}) -> {current_function, mfa(MFA)};
printable({Key, Pids}) when Key =:= links; Key =:= monitored_by -> {Key, [text(P) || P <- lists:sublist(Pids, ?LIST_CAP)]};
printable({monitors, Monitors}) -> {monitors, [text(M) || M <- lists:sublist(Monitors, ?LIST_CAP)]};
printable({group_leader, Pid}) -> {group_leader, text(Pid)};
printable({current_stacktrace, Stack}) ->
    {current_stacktrace, [iolist_to_binary(io_lib:format("~s:~s/~b", [M, F, if is_list(A) -> length(A); true -> A end])) || {M, F, A, _} <- lists:sublist(Stack, 20)]};
printable(Other) -> Other.

mfa({M, F, A}) when is_atom(M), is_atom(F), is_integer(A) -> iolist_to_binary(io_lib:format("~s:~s/~b", [M, F, A]));
mfa(Other) -> text(Other).

text(Pid) when is_pid(Pid) -> list_to_binary(pid_to_list(Pid));
text(Port) when is_port(Port) -> list_to_binary(port_to_list(Port));
text(Ref) when is_reference(Ref) -> list_to_binary(ref_to_list(Ref));
text({process, Pid}) -> text(Pid);
text({port, Port}) -> text(Port);
text(Term) -> iolist_to_binary(io_lib:format("~0tp", [Term])).
