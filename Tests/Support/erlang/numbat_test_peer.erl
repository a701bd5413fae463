%% Helpers loaded into the real OTP nodes that Numbat's tests start (compiled by OTP 25's
%% erlc; the beam also loads on OTP 28). Each function is called over rpc by a Swift test.
-module(numbat_test_peer).
-export([eval/1, start_echo/0, echo_loop/0, call/3, call/4, spawn_exiter/0, start_collector/0, collected/0,
         watch/1, link_to/1, await_seen/2, send_after_connect/3, big_binary/2, ready/0,
         spawn_sleepers/1, make_agent_sticky/1]).

%% Printed on stdout once the node is up, so the test harness knows it can connect.
ready() -> io:format("numbat-test-ready~n").

%% Evaluates Erlang expressions given as text (a binary), for tests that set up a node's state.
eval(Text) when is_binary(Text) ->
    {ok, Tokens, _} = erl_scan:string(binary_to_list(Text)),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, Value, _} = erl_eval:exprs(Exprs, []),
    Value.

%% A registered process that answers {From, Msg} with {echo, Msg}.
start_echo() ->
    Pid = spawn(fun echo_loop/0),
    register(numbat_echo, Pid),
    Pid.

echo_loop() ->
    receive
        {From, Msg} -> From ! {echo, Msg}, echo_loop();
        stop -> ok
    end.

%% gen_server:call into a Swift mailbox registered as Name on Node.
call(Name, Node, Request) -> call(Name, Node, Request, 5000).
call(Name, Node, Request, Timeout) -> gen_server:call({Name, Node}, Request, Timeout).

%% A process that exits with R when sent {exit, R}.
spawn_exiter() -> spawn(fun() -> receive {exit, R} -> exit(R) end end).

%% A registered process that records node events and DOWN messages for later inspection.
start_collector() ->
    Parent = self(),
    Pid = spawn(fun() ->
        process_flag(trap_exit, true),
        ok = net_kernel:monitor_nodes(true, [{node_type, all}, nodedown_reason]),
        Parent ! collector_ready,
        collector_loop([])
    end),
    register(numbat_collector, Pid),
    receive collector_ready -> Pid end.

collector_loop(Seen) ->
    receive
        {collected, From} -> From ! {collected, lists:reverse(Seen)}, collector_loop(Seen);
        {watch, Pid} -> monitor(process, Pid), collector_loop(Seen);
        {link, Pid, From} -> From ! {linked, catch link(Pid)}, collector_loop(Seen);
        Other -> collector_loop([Other | Seen])
    end.

collected() ->
    numbat_collector ! {collected, self()},
    receive {collected, Seen} -> Seen after 5000 -> timeout end.

%% Asks the collector to monitor Pid (typically a Swift mailbox).
watch(Pid) -> numbat_collector ! {watch, Pid}, ok.

%% Links the collector (which traps exits) to Pid; its EXIT is then collected.
link_to(Pid) ->
    numbat_collector ! {link, Pid, self()},
    receive {linked, R} -> R after 5000 -> timeout end.

%% Waits up to Timeout ms for a collected message whose first element is Tag ('DOWN', 'EXIT',
%% nodedown, nodeup) and returns the first one, or timeout. Polls the collector, so a test waits
%% only as long as the event takes.
await_seen(Tag, Timeout) when Timeout =< 0 ->
    case [M || M <- collected(), is_tuple(M), element(1, M) =:= Tag] of [M | _] -> M; [] -> timeout end;
await_seen(Tag, Timeout) ->
    case [M || M <- collected(), is_tuple(M), element(1, M) =:= Tag] of
        [M | _] -> M;
        [] -> receive after 10 -> await_seen(Tag, Timeout - 10) end
    end.

%% {Name, Node} ! Msg from a fresh process (exercises REG_SEND to a Swift node).
send_after_connect(Name, Node, Msg) -> {Name, Node} ! Msg, ok.

%% Sends a binary of Size bytes to Pid, and returns its MD5 so the test can compare.
big_binary(Pid, Size) ->
    Bin = crypto_free_random(Size),
    Pid ! {big, Bin},
    erlang:md5(Bin).

crypto_free_random(Size) ->
    rand:seed(exsss, {1, 2, 3}),
    << <<(rand:uniform(256) - 1)>> || _ <- lists:seq(1, Size) >>.

%% N processes that wait for ever (they die with the node), for process-count checks.
spawn_sleepers(N) ->
    [spawn(fun() -> receive never -> ok end end) || _ <- lists:seq(1, N)],
    ok.

%% Makes Module impossible to load with code:load_binary/3: a placeholder of that name is loaded
%% from a sticky directory (as kernel and stdlib are), so the node refuses replacements.
make_agent_sticky(Module) ->
    Dir = filename:join("/tmp", "numbat-sticky-" ++ os:getpid()),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Source = filename:join(Dir, atom_to_list(Module) ++ ".erl"),
    ok = file:write_file(Source, io_lib:format("-module(~s).~n", [Module])),
    {ok, Module, Beam} = compile:file(Source, [binary]),
    ok = file:write_file(filename:join(Dir, atom_to_list(Module) ++ ".beam"), Beam),
    true = code:add_patha(Dir),
    {module, Module} = code:load_file(Module),
    ok = code:stick_dir(Dir),
    Dir.
