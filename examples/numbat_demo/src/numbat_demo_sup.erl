-module(numbat_demo_sup).
-behaviour(supervisor).
-export([start_link/0, init/1]).

start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    Child = #{id => numbat_demo, start => {numbat_demo, start_link, []}},
    {ok, {#{strategy => one_for_one, intensity => 5, period => 10}, [Child]}}.
