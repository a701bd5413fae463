%% The skeleton Numbat's agents share: start/2, stop/0, the agent process (registered under the
%% module's name, monitoring its Numbat-side owner) and its leaving. It is a header, included at
%% compile time, so each agent's beam stays one self-contained module for code:load_binary/3:
%% nothing here calls another Numbat module, and ?MODULE is the including agent.
%%
%% The protocol with Numbat (Sources/NumbatServices/Core/AgentOwner.swift and Agent.swift):
%% - Module:start(OwnerPid, Options) -> {ok, Pid} | {error, Reason}: (re)starts the agent for a
%%   new owner, an earlier agent of the module stopping first;
%% - Module:stop() -> ok: the agent removes what it added to the node; the module stays;
%% - when the owner (a Numbat mailbox) or the connection goes, the agent removes what it added,
%%   then the module too, unless a new Numbat started an agent meanwhile.
%%
%% Include it after the module's own -export (it exports start/2 and stop/0). The module defines:
%% - agent_init(Owner, Options) -> State: runs in the agent process, registered and monitoring
%%   Owner, before start/2 answers; an exception makes start/2 answer {error, {Class, Reason}};
%% - agent_message(Message, State) -> State: any other message the agent process receives;
%% - agent_cleanup() -> ok: removes what the agent added to the node (handlers, ...), when it is
%%   stopped, when its owner goes, and when it fails (in agent_init/2 or later);
%% - agent_deleted() -> ok: runs once the module is deleted after the owner went (what else
%%   should go with it).
%% Written for OTP 25 through 28; compiled into each agent with OTP 25's erlc +deterministic.

-export([start/2, stop/0]).

start(Owner, Options) when is_pid(Owner), is_map(Options) ->
    stop(),
    Parent = self(),
    Pid = spawn(fun() -> skeleton_run(Owner, Options, Parent) end),
    receive
        {Pid, started} -> {ok, Pid};
        {Pid, failed, Reason} -> {error, Reason}
    after 5000 -> exit(Pid, kill), {error, timeout}
    end.

stop() ->
    case whereis(?MODULE) of
        undefined -> ok;
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! stop,
            receive {'DOWN', Ref, process, Pid, _} -> ok after 5000 -> exit(Pid, kill), ok end
    end.

%% The agent process. A failure, at the start or later, still removes what the agent added.
skeleton_run(Owner, Options, Parent) ->
    try
        true = register(?MODULE, self()),
        OwnerRef = monitor(process, Owner),
        State = agent_init(Owner, Options),
        Parent ! {self(), started},
        skeleton_loop(OwnerRef, State)
    catch
        Class:Reason ->
            agent_cleanup(),
            Parent ! {self(), failed, {Class, Reason}}
    end.

skeleton_loop(OwnerRef, State) ->
    receive
        {'DOWN', OwnerRef, process, _, _} ->
            agent_cleanup(),
            skeleton_leave();
        stop ->
            agent_cleanup();
        Message ->
            skeleton_loop(OwnerRef, agent_message(Message, State))
    end.

%% Numbat is gone: the module goes too, unless a new Numbat started an agent meanwhile (a
%% restart of the server). Nothing calls into the module once it is deleted; the purge runs in
%% the code module, after this process has left the code (it ends once this returns).
skeleton_leave() ->
    unregister(?MODULE),
    receive after 2000 -> ok end,
    case whereis(?MODULE) of
        undefined ->
            %% An earlier agent's old code (one that left while this one started) would make
            %% the delete fail: it goes first, unless that agent still runs it.
            _ = code:soft_purge(?MODULE),
            code:delete(?MODULE),
            timer:apply_after(1000, code, soft_purge, [?MODULE]),
            agent_deleted();
        _ -> ok
    end.
