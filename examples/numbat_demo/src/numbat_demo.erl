%% The demo's one server: it remembers the cluster it joined and reconnects to it, so a node
%% restarted by Numbat finds its peers again.
-module(numbat_demo).
-behaviour(gen_server).
-export([start_link/0, join/1, peers/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% Connects this node to Peer and, through it, to the whole cluster.
join(Peer) -> gen_server:call(?MODULE, {join, Peer}, 15000).

peers() -> lists:sort(nodes()).

init([]) ->
    Known = case file:consult(peers_file()) of {ok, [Nodes]} -> Nodes; _ -> [] end,
    [net_kernel:connect_node(N) || N <- Known],
    erlang:send_after(5000, self(), reconnect),
    {ok, #{known => Known}}.

handle_call({join, Peer}, _From, State = #{known := Known}) ->
    case net_kernel:connect_node(Peer) of
        true ->
            Cluster = lists:usort([Peer | rpc:call(Peer, erlang, nodes, [], 5000)]) -- [node()],
            [net_kernel:connect_node(N) || N <- Cluster],
            All = lists:usort(Known ++ Cluster),
            ok = file:write_file(peers_file(), io_lib:format("~p.~n", [All])),
            {reply, ok, State#{known := All}};
        _ ->
            {reply, {error, {cannot_connect, Peer}}, State}
    end;
handle_call(_, _From, State) ->
    {reply, {error, unknown_call}, State}.

handle_cast(_, State) -> {noreply, State}.

handle_info(reconnect, State = #{known := Known}) ->
    [net_kernel:connect_node(N) || N <- Known, not lists:member(N, nodes())],
    erlang:send_after(5000, self(), reconnect),
    {noreply, State};
handle_info(_, State) -> {noreply, State}.

peers_file() -> filename:join(code:root_dir(), "peers.config").
