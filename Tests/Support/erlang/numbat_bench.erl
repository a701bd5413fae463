%% The Erlang side of `numbat-bench` (Sources/NumbatBench, docs/benchmarks.md). Loaded into the
%% nodes the benchmark starts (compiled by OTP 25's erlc; the beam also loads on OTP 28):
%%   - on the target node: the counting process that one-way messages are sent to;
%%   - on the Erlang hidden driver node: the rpc and send loops Swift is compared against;
%%   - on codec nodes: term_to_binary/binary_to_term loops over the shared term file.
%% Every function is called by the Swift benchmark over rpc. Times are in microseconds.
-module(numbat_bench).
-export([rpc_run/5, counter_start/0, send_run/3,
         codec_terms/0, write_codec_file/2, write_codec_file/3, traffic_terms/1, codec_bench/3]).

now_us() -> erlang:monotonic_time(microsecond).

%% ---------------------------------------------------------------------------------------
%% Synchronous rpc: Concurrency processes, each calling Target in a loop, one call in flight
%% each. Limit is {millis, Ms} (every caller stops at the same deadline) or {calls, N} (N in
%% all, split between the callers). Returns {Calls, Micros}.
%%
%% Variants:
%%   rex_call  gen_server:call({rex, Target}, {call, M, F, A, user}, infinity): what rpc:call did
%%             before OTP 23; on the wire: MONITOR_P, REG_SEND, ALIAS_SEND reply, DEMONITOR_P.
%%   rex_raw   {rex, Target} ! {self(), {call, M, F, A, user}}, receive {rex, R}: the exact two
%%             messages Numbat's LocalNode.rpc exchanges (REG_SEND, SEND reply).
%%   rpc_call  rpc:call/4, which on OTP 23+ is erpc: SPAWN_REQUEST of erpc:execute_call/4,
%%             SPAWN_REPLY, the result in the DOWN reason. No rex involved.
rpc_run(Target, Variant, Concurrency, Limit, {M, F, A}) ->
    Parent = self(),
    Shares = case Limit of
                 {calls, N} -> [{calls, N div Concurrency + (case I =< N rem Concurrency of true -> 1; false -> 0 end)}
                                || I <- lists:seq(1, Concurrency)];
                 {millis, Ms} -> lists:duplicate(Concurrency, {deadline, now_us() + Ms * 1000})
             end,
    T0 = now_us(),
    Workers = [spawn_link(fun() -> Parent ! {self(), caller(Target, Variant, M, F, A, Share, 0)} end)
               || Share <- Shares],
    Counts = [receive {W, Count} -> Count end || W <- Workers],
    {lists:sum(Counts), now_us() - T0}.

caller(_Target, _Variant, _M, _F, _A, {calls, 0}, Done) -> Done;
caller(Target, Variant, M, F, A, {calls, Left}, Done) ->
    _ = call(Variant, Target, M, F, A),
    caller(Target, Variant, M, F, A, {calls, Left - 1}, Done + 1);
caller(Target, Variant, M, F, A, {deadline, Deadline} = Share, Done) ->
    case now_us() < Deadline of
        true ->
            _ = call(Variant, Target, M, F, A),
            caller(Target, Variant, M, F, A, Share, Done + 1);
        false ->
            Done
    end.

call(rex_call, Target, M, F, A) ->
    gen_server:call({rex, Target}, {call, M, F, A, user}, infinity);
call(rex_raw, Target, M, F, A) ->
    {rex, Target} ! {self(), {call, M, F, A, user}},
    receive {rex, Reply} -> Reply end;
call(rpc_call, Target, M, F, A) ->
    rpc:call(Target, M, F, A).

%% ---------------------------------------------------------------------------------------
%% One-way messages. `numbat_bench_counter` on the target counts what it receives; after
%% {reset, N, ReplyTo} it sends ReplyTo {counted, N} once N more messages have arrived.

counter_start() ->
    case whereis(numbat_bench_counter) of
        undefined -> ok;
        Old -> unlink(Old), exit(Old, kill)
    end,
    Pid = spawn(fun() ->
        %% Bursts of a million queued messages: keep them off the heap, as one would for a
        %% process that must absorb bursts; the same for every sender.
        process_flag(message_queue_data, off_heap),
        counter_loop(0, -1, undefined)
    end),
    register(numbat_bench_counter, Pid),
    ok.

counter_loop(Count, Expected, ReplyTo) ->
    receive
        {reset, N, NewReplyTo} ->
            counter_loop(0, N, NewReplyTo);
        _ when Count + 1 =:= Expected ->
            ReplyTo ! {counted, Expected},
            counter_loop(0, -1, undefined);
        _ ->
            counter_loop(Count + 1, Expected, ReplyTo)
    end.

%% Sends N messages {bench, I, Payload} to the counter on Target, as Swift does, and waits
%% until the counter has them all. Returns {SenderMicros, DeliveredMicros}.
send_run(Target, N, Payload) ->
    Counter = {numbat_bench_counter, Target},
    Counter ! {reset, N, self()},
    T0 = now_us(),
    send_loop(Counter, N, Payload),
    T1 = now_us(),
    receive {counted, N} -> ok end,
    {T1 - T0, now_us() - T0}.

send_loop(_Counter, 0, _Payload) -> ok;
send_loop(Counter, I, Payload) ->
    Counter ! {bench, I, Payload},
    send_loop(Counter, I - 1, Payload).

%% ---------------------------------------------------------------------------------------
%% ETF codec. The shapes are generated here, written once with term_to_binary, and read back
%% by both Swift and every Erlang codec node, so all of them work on the same terms.

codec_terms() ->
    [{small_msg, {'$gen_call', {self(), make_ref()}, {call, lists, reverse, [[1, 2, 3]], user}}},
     {ints_1000, lists:seq(1, 1000)},
     {map_100_binaries, maps:from_list([{<<"key_", (integer_to_binary(I))/binary>>,
                                         list_to_binary([(I * 31 + J) rem 256 || J <- lists:seq(1, 32)])}
                                        || I <- lists:seq(1, 100)])},
     {erlang_memory, erlang:memory()},
     {deep_nested, tree(7)}].

%% The server's real traffic, made on this node by Numbat's own agents (the Swift side loads
%% their code first): metric_reply, the message numbat_metrics_agent sends for one collection
%% ({Ref, {ok, Metrics}}), and log_batch, one {numbat_logs, Events, Lost} of numbat_log_agent
%% holding Count logger events. Both agents are stopped again before this returns.
traffic_terms(Count) ->
    {ok, _} = numbat_metrics_agent:start(self(), #{}),
    {ok, _} = numbat_metrics_agent:collect(5000),
    Ref = make_ref(),
    MetricReply = {Ref, numbat_metrics_agent:collect(5000)},
    ok = numbat_metrics_agent:stop(),
    {ok, _} = numbat_log_agent:start(self(), #{level => info, max_batch => Count, max_rate => 1000000}),
    [logger:warning("request ~p from ~s failed: ~p", [I, "client.example.com", {timeout, 5000}],
                    #{request_id => I, domain => [numbat, bench]})
     || I <- lists:seq(1, Count)],
    Events = log_events(Count, []),
    ok = numbat_log_agent:stop(),
    [{metric_reply, MetricReply}, {log_batch, {numbat_logs, lists:sublist(Events, Count), 0}}].

log_events(Count, Events) when length(Events) >= Count -> Events;
log_events(Count, Events) ->
    receive {numbat_logs, Batch, _Lost} -> log_events(Count, Events ++ Batch)
    after 5000 -> error({log_batch_incomplete, length(Events)})
    end.

%% A binary tree of tuples, lists, maps, floats, strings and binaries, 2^Depth leaves.
tree(0) -> {leaf, 3.14159, <<"leaf">>, "short string"};
tree(D) -> {node, D, [tree(D - 1), tree(D - 1)], #{depth => D, label => <<"inner">>}}.

%% The file: records of <<NameLength:8, Name, Size:32, term_to_binary(Term):Size>>.
%% MinorVersion 2 writes UTF-8 atoms (as distribution does, and term_to_binary/1 on OTP 26+);
%% 1 writes Latin-1 atoms (term_to_binary/1 on OTP 25 and earlier).
write_codec_file(Path, MinorVersion) ->
    write_codec_file(Path, MinorVersion, []).

%% The same, with Extra [{Name, Term}] shapes after codec_terms().
write_codec_file(Path, MinorVersion, Extra) ->
    Records = [begin
                   N = atom_to_binary(Name, utf8),
                   B = term_to_binary(Term, [{minor_version, MinorVersion}]),
                   <<(byte_size(N)):8, N/binary, (byte_size(B)):32, B/binary>>
               end || {Name, Term} <- codec_terms() ++ Extra],
    ok = file:write_file(Path, Records),
    length(Records).

read_codec_file(Path) ->
    {ok, Bin} = file:read_file(Path),
    parse_records(Bin).

parse_records(<<>>) -> [];
parse_records(<<NL:8, Name:NL/binary, Size:32, B:Size/binary, Rest/binary>>) ->
    [{Name, B} | parse_records(Rest)].

%% For each term of the file: encode (term_to_binary/2 with the file's minor version, so every
%% side writes the same atom encoding) and decode (binary_to_term/1) loops of about Millis each,
%% after a doubling calibration that is also the warm-up. Returns
%% [{Name, EncodedSize, EncodeIterations, EncodeMicros, DecodeIterations, DecodeMicros}].
codec_bench(Path, Millis, MinorVersion) ->
    Options = [{minor_version, MinorVersion}],
    [begin
         Term = binary_to_term(B),
         Encoded = term_to_binary(Term, Options),
         {EncN, EncUs} = measure(fun(K) -> encode_loop(Term, Options, K, 0) end, Millis),
         {DecN, DecUs} = measure(fun(K) -> decode_loop(B, K, undefined) end, Millis),
         {Name, byte_size(Encoded), EncN, EncUs, DecN, DecUs}
     end || {Name, B} <- read_codec_file(Path)].

encode_loop(_Term, _Options, 0, Bytes) -> Bytes;
encode_loop(Term, Options, K, Bytes) ->
    encode_loop(Term, Options, K - 1, Bytes + byte_size(term_to_binary(Term, Options))).

decode_loop(_B, 0, Last) -> Last;
decode_loop(B, K, _Last) -> decode_loop(B, K - 1, binary_to_term(B)).

measure(Loop, Millis) ->
    Target = Millis * 1000,
    {K, Us} = calibrate(Loop, 1, Target div 10),
    Iterations = max(1, (K * Target) div max(1, Us)),
    {Micros, _} = timer:tc(fun() -> Loop(Iterations) end),
    {Iterations, Micros}.

calibrate(Loop, K, Target) ->
    {Us, _} = timer:tc(fun() -> Loop(K) end),
    case Us >= Target of
        true -> {K, Us};
        false -> calibrate(Loop, K * 2, Target)
    end.
