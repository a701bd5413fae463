/// The Erlang half of the round-trip tests, compiled at test time into a temporary directory (a
/// compiled module is far faster than `erl_eval`, and makes real local funs besides the
/// `erl_eval` ones). It writes and reads the length-prefixed record files of `RecordFile`.
///
/// - `generate(Seed, Count, Path)`: a seeded corpus of `term_to_binary` records (some compressed,
///   some with `minor_version 0` floats), plus fixed boundary terms and hand-made legacy encodings.
/// - `check(Originals, Returned)`: `binary_to_term` of each pair must be `=:=`.
/// - `echo(In, Out)`: `term_to_binary(binary_to_term(R))` of every record.
/// - `check_descriptions(Bytes, Texts)`: each text, read with `erl_scan` and `erl_parse:parse_term`,
///   must be `=:=` to `binary_to_term` of its bytes.
enum ErlangCorpusModule {
    static let name = "numbat_term_corpus"

    static let source = #"""
    -module(numbat_term_corpus).
    -export([generate/3, check/2, echo/2, check_descriptions/2]).

    generate(Seed, Count, Path) ->
        rand:seed(exsss, {Seed, 17, 4711}),
        Ports = [open_port({spawn_executable, os:find_executable("cat")}, []) || _ <- lists:seq(1, 3)],
        put(ports, Ports),
        Terms = fixed() ++ [term(4) || _ <- lists:seq(1, Count)],
        Records = [encode(T) || T <- Terms] ++ compressed() ++ legacy_records(),
        ok = file:write_file(Path, [[<<(byte_size(R)):32>>, R] || R <- Records]),
        [port_close(P) || P <- Ports],
        io:format("generated ~b~n", [length(Records)]).

    encode(T) ->
        case rand:uniform(10) of
            1 -> term_to_binary(T, [compressed]);
            2 -> term_to_binary(T, [{minor_version, 0}]);
            _ -> term_to_binary(T)
        end.

    term(0) -> leaf();
    term(D) ->
        case rand:uniform(20) of
            N when N =< 3 -> list_to_tuple(terms(D));
            N when N =< 6 -> terms(D);
            7 -> terms(D) ++ [term(D - 1) | non_list()];
            N when N =< 9 -> maps:from_list([{term(D - 1), term(D - 1)} || _ <- lists:seq(1, rand:uniform(5) - 1)]);
            10 when D =:= 4 -> maps:from_list([{K, leaf()} || K <- lists:seq(1, 32 + rand:uniform(30))]);
            11 when D =:= 4 -> list_to_tuple([leaf() || _ <- lists:seq(1, 255 + rand:uniform(50))]);
            12 -> capture(term(D - 1));
            _ -> leaf()
        end.

    terms(D) -> [term(D - 1) || _ <- lists:seq(1, rand:uniform(6) - 1)].

    non_list() ->
        case leaf() of
            L when is_list(L) -> non_list();
            X -> X
        end.

    leaf() ->
        case rand:uniform(16) of
            1 -> rand:uniform(256) - 1;
            2 -> rand:uniform(1 bsl 32) - (1 bsl 31) - 1;
            3 -> rand:uniform(1 bsl 65) - (1 bsl 64) - 1;
            4 -> big();
            5 -> float();
            6 -> atom();
            7 -> atom();
            8 -> binary();
            9 -> Bits = rand:uniform(7), <<(rand:bytes(rand:uniform(10) - 1))/binary, (rand:uniform(128)):Bits>>;
            10 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(30))];
            11 -> text(rand:uniform(20));
            12 -> pid();
            13 -> ref();
            14 -> port();
            15 -> function();
            16 -> pick([[], {}, #{}, <<>> | boundaries()])
        end.

    boundaries() ->
        [0, -1, 255, 256, -256, 2147483647, 2147483648, -2147483648, -2147483649,
         (1 bsl 63) - 1, 1 bsl 63, -(1 bsl 63), -(1 bsl 63) - 1, (1 bsl 64) - 1, 1 bsl 64, -(1 bsl 64),
         (1 bsl 2040) - 1, 1 bsl 2040, -(1 bsl 2040)].

    big() ->
        V = rand:uniform(1 bsl rand:uniform(2200)) + (1 bsl 64),
        pick([V, -V]).

    float() ->
        case rand:uniform(3) of
            1 -> pick([0.0, negative_zero(), 1.0, -1.5, 0.1, 5.0e-324, 2.2250738585072014e-308,
                       1.7976931348623157e308, -1.7976931348623157e308, 1.0e16, 123456789.125]);
            _ -> random_float()
        end.

    negative_zero() -> <<F/float>> = <<1:1, 0:63>>, F.

    random_float() ->
        case rand:bytes(8) of
            <<F/float>> -> F;
            _ -> random_float()
        end.

    fixed_atoms() ->
        [ok, error, true, false, undefined, '', 'hello world', 'Capital', 'with\'quote', 'back\\slash',
         'new\nline', 'a@b', 'end', 'fun', 'maybe', 'else', '9lives', '_under',
         list_to_atom([233]), list_to_atom([$e, 16#301]), list_to_atom([16#65E5, 16#672C]),
         list_to_atom([16#1F600]), list_to_atom([0]), list_to_atom([127]), list_to_atom([16#85]),
         list_to_atom(lists:duplicate(255, $x)), list_to_atom(lists:duplicate(255, 16#4E2D))].

    atom() ->
        case rand:uniform(3) of
            1 -> pick(fixed_atoms());
            _ -> list_to_atom(text(rand:uniform(21) - 1))
        end.

    alphabets() ->
        [{$a, $z}, {$A, $Z}, {$0, $9}, {32, 126}, {160, 255}, {16#100, 16#24F}, {16#370, 16#3FF},
         {16#4E00, 16#4FFF}, {16#1F600, 16#1F64F}, {0, 31}].

    text(N) ->
        Alphabets = [pick(alphabets()), pick(alphabets())],
        [char(pick(Alphabets)) || _ <- lists:seq(1, N)].

    char({Low, High}) -> Low + rand:uniform(High - Low + 1) - 1.

    binary() ->
        case rand:uniform(10) of
            1 -> rand:bytes(256 + rand:uniform(200));
            N when N =< 4 -> unicode:characters_to_binary(text(rand:uniform(20)));
            _ -> rand:bytes(rand:uniform(31) - 1)
        end.

    u32() -> rand:uniform(1 bsl 32) - 1.

    node_atom() ->
        Node = pick(['a@b', 'numbat@host.example', list_to_atom("\x{FC}n\x{EF}@h\x{F8}st"), 'n1@127.0.0.1']),
        Name = atom_to_binary(Node, utf8),
        <<119, (byte_size(Name)), Name/binary>>.

    pid() ->
        case rand:uniform(4) of
            1 -> self();
            2 -> list_to_pid("<0." ++ integer_to_list(rand:uniform(32767)) ++ "." ++ integer_to_list(rand:uniform(100) - 1) ++ ">");
            3 -> binary_to_term(<<131, 88, (node_atom())/binary, (u32()):32, (u32()):32, (u32()):32>>);
            4 -> spawn(fun() -> ok end)
        end.

    ref() ->
        case rand:uniform(3) of
            1 -> make_ref();
            2 -> alias();
            3 ->
                N = rand:uniform(5),
                Words = << <<(u32()):32>> || _ <- lists:seq(1, N) >>,
                binary_to_term(<<131, 90, N:16, (node_atom())/binary, (u32()):32, Words/binary>>)
        end.

    port() ->
        case rand:uniform(4) of
            1 -> pick(get(ports));
            2 -> list_to_port("#Port<0." ++ integer_to_list(rand:uniform(1000)) ++ ">");
            3 -> binary_to_term(<<131, 89, (node_atom())/binary, (u32()):32, (u32()):32>>);
            4 -> binary_to_term(<<131, 120, (node_atom())/binary, (rand:uniform(1 bsl 64) - 1):64, (u32()):32>>)
        end.

    function() ->
        case rand:uniform(5) of
            1 -> fun lists:map/2;
            2 -> erlang:make_fun(atom(), atom(), rand:uniform(256) - 1);
            3 -> adder(rand:uniform(1000));
            4 -> capture(leaf());
            5 -> eval_adder(rand:uniform(1000))
        end.

    adder(N) -> fun(X) -> X + N end.

    capture(T) -> fun() -> T end.

    %% A fun made by erl_eval, as a shell or -eval would make it.
    eval_adder(N) ->
        {ok, Tokens, _} = erl_scan:string("fun(X) -> X + N end."),
        {ok, [Expression]} = erl_parse:parse_exprs(Tokens),
        {value, F, _} = erl_eval:expr(Expression, erl_eval:add_binding('N', N, erl_eval:new_bindings())),
        F.

    pick(List) -> lists:nth(rand:uniform(length(List)), List).

    fixed() ->
        DeepList = lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 1000)),
        DeepTuple = lists:foldl(fun(_, A) -> {A} end, ok, lists:seq(1, 1000)),
        DeepMap = lists:foldl(fun(N, A) -> #{A => N} end, #{}, lists:seq(1, 100)),
        boundaries() ++ fixed_atoms() ++
        [1 bsl 100000, -(1 bsl 100000) + 1, negative_zero(), [negative_zero(), 0.0], #{0.0 => a, negative_zero() => b},
         #{list_to_atom([233]) => 1, list_to_atom([$e, 16#301]) => 2},
         lists:seq(1, 70000), lists:duplicate(65535, $a), lists:duplicate(65536, $a),
         binary:copy(<<"abc">>, 100000), <<1:1>>, <<255, 7:3>>,
         maps:from_list([{I, integer_to_list(I)} || I <- lists:seq(1, 1000)]),
         list_to_tuple(lists:seq(1, 70000)), DeepList, DeepTuple, DeepMap,
         [a | b], [1, 2 | <<3>>], {[], {}, #{}, <<>>, ""},
         fun lists:map/2, fun erlang:abs/1, adder(1), capture({a, [1, 2]}), eval_adder(2),
         self(), make_ref(), list_to_port("#Port<0.5>")].

    compressed() ->
        DeepList = lists:duplicate(200, [x]),
        [term_to_binary(lists:duplicate(1000, hello), [compressed]),
         term_to_binary(maps:from_list([{I, <<"value">>} || I <- lists:seq(1, 500)]), [{compressed, 9}]),
         term_to_binary(binary:copy(<<0>>, 1000000), [{compressed, 1}]),
         term_to_binary([capture(lists:seq(1, 300)), DeepList], [compressed]),
         term_to_binary(DeepList, [compressed])].

    %% Encodings term_to_binary no longer writes, kept only if this release still reads them.
    legacy_records() ->
        Node = <<100, 0, 3, "a@b">>,
        Elements =
            [<<103, Node/binary, 0, 0, 0, 1, 0, 0, 0, 2, 3>>,
             <<101, Node/binary, 0, 0, 0, 1, 3>>,
             <<114, 0, 3, Node/binary, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3>>,
             <<102, Node/binary, 0, 0, 0, 1, 3>>,
             <<89, Node/binary, 0, 0, 0, 1, 0, 0, 0, 3>>,
             <<115, 3, "abc">>,
             <<115, 2, 233, 255>>,
             <<100, 0, 2, 233, 255>>,
             <<118, 0, 2, 195, 169>>,
             <<99, "1.50000000000000000000e+00", 0, 0, 0, 0, 0>>,
             <<99, "-2.50000000000000000000e-10", 0, 0, 0, 0>>,
             <<110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127>>,
             <<110, 3, 0, 1, 0, 0>>,
             <<111, 0, 0, 0, 2, 1, 1, 0>>,
             <<105, 0, 0, 0, 2, 97, 1, 97, 2>>,
             <<108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106>>,
             <<77, 0, 0, 0, 1, 8, 5>>,
             <<98, 0, 0, 0, 5>>],
        Valid = [E || E <- Elements, readable(<<131, E/binary>>)],
        [<<131, E/binary>> || E <- Valid] ++ [<<131, 108, (length(Valid)):32, (iolist_to_binary(Valid))/binary, 106>>].

    readable(Binary) ->
        try binary_to_term(Binary) of _ -> true catch _:_ -> false end.

    records(Path) ->
        {ok, Binary} = file:read_file(Path),
        split(Binary, []).

    split(<<Size:32, Record:Size/binary, Rest/binary>>, Acc) -> split(Rest, [Record | Acc]);
    split(<<>>, Acc) -> lists:reverse(Acc).

    check(OriginalPath, ReturnedPath) ->
        Originals = records(OriginalPath),
        Returned = records(ReturnedPath),
        Mismatches = mismatches(Originals, Returned, fun same_term/2),
        io:format("checked ~b returned ~b mismatches ~b first ~w~n",
                  [length(Originals), length(Returned), length(Mismatches), lists:sublist(Mismatches, 5)]).

    same_term(Original, Returned) -> binary_to_term(Original) =:= binary_to_term(Returned).

    mismatches(As, Bs, Same) ->
        Pairs = lists:zip(lists:sublist(As, length(Bs)), lists:sublist(Bs, length(As))),
        [I || {I, {A, B}} <- lists:zip(lists:seq(1, length(Pairs)), Pairs), not safely(Same, A, B)].

    safely(Same, A, B) ->
        try Same(A, B) catch _:_ -> false end.

    echo(InPath, OutPath) ->
        Records = [echo_record(R) || R <- records(InPath)],
        ok = file:write_file(OutPath, [[<<(byte_size(R)):32>>, R] || R <- Records]),
        io:format("echoed ~b failed ~b~n", [length(Records), length([R || R <- Records, R =:= <<>>])]).

    echo_record(<<131, 80, _/binary>> = Record) ->
        try term_to_binary(binary_to_term(Record), [compressed]) catch _:_ -> <<>> end;
    echo_record(Record) ->
        try term_to_binary(binary_to_term(Record)) catch _:_ -> <<>> end.

    check_descriptions(BytesPath, TextPath) ->
        Encoded = records(BytesPath),
        Texts = records(TextPath),
        Mismatches = mismatches(Encoded, Texts, fun(Bytes, Text) -> binary_to_term(Bytes) =:= parse(Text) end),
        [io:format("unreadable ~ts~n", [lists:nth(I, Texts)]) || I <- lists:sublist(Mismatches, 3)],
        io:format("described ~b texts ~b mismatches ~b~n", [length(Encoded), length(Texts), length(Mismatches)]).

    parse(Text) ->
        {ok, Tokens, _} = erl_scan:string(unicode:characters_to_list(Text) ++ "."),
        {ok, Term} = erl_parse:parse_term(Tokens),
        Term.
    """#
}
