%% Numbat's lager backend: a gen_event handler in lager's default sink (lager_event), added by
%% numbat_log_agent when lager runs on the node. Like the agent's logger handler it only hands
%% events over: it runs in lager_event's process, which a logging process may be waiting on
%% (lager's sync mode), so it never blocks and drops (counting the drop) when the agent's queue
%% is long. Injected by Numbat before numbat_log_agent; uses only lager's public functions
%% (lager_msg:*, lager_util:config_to_mask/1), no lager header, so it compiles without lager.
%%
%% Contract with numbat_log_agent:
%% - handler id {numbat_lager_backend, Agent}: each agent removes only its own;
%% - init arg #{agent := Agent, dropped := Counters, level := Level, max_queue := N,
%%   skip_redirected := boolean()};
%% - it sends Agent {lager_event, LagerMsg} for each lager message at or above Level, or adds 1
%%   to counter 1 of Counters when Agent's message queue holds N or more messages;
%% - it answers lager's get_loglevel with {mask, Mask} and {set_loglevel, Level} with ok (or
%%   {error, bad_log_level}); whoever adds it or changes its level then calls
%%   lager:update_loglevel_config(lager_event), so lager's own level check lets those events
%%   through;
%% - when Agent is gone it removes itself on the next event.
%%
%% Double collection: the agent's logger handler collects every logger event, which includes all
%% that error_logger and OTP's reports produce. With error_logger_redirect (lager's default),
%% lager also turns those error_logger events into lager messages in lager_event; so when the
%% redirect leads here (skip_redirected), this backend leaves out the messages shaped as the
%% redirect makes them (error_logger_lager_h): metadata that starts with {pid, Pid} (a pid or an
%% atom) and has neither node (which the parse transform always adds) nor file (which lager's own
%% internal messages carry). Plain logger:Level/2 events are not redirected at all (error_logger's
%% logger handler passes on only events with error_logger metadata). The price: a manual
%% lager:log(Level, Pid, ...) call, shaped like a redirect, is not collected while the redirect
%% is on.
-module(numbat_lager_backend).
-behaviour(gen_event).
-export([init/1, handle_event/2, handle_call/2, handle_info/2, terminate/2, code_change/3]).

init(#{agent := Agent, dropped := Dropped, level := Level, max_queue := MaxQueue} = Args) when is_pid(Agent) ->
    case mask(Level) of
        {ok, Mask} ->
            {ok, #{agent => Agent, dropped => Dropped, mask => Mask, max_queue => MaxQueue,
                   skip_redirected => maps:get(skip_redirected, Args, false)}};
        error ->
            {error, bad_log_level}
    end.

handle_event({log, Msg}, State = #{agent := Agent, dropped := Dropped, max_queue := MaxQueue}) ->
    case wanted(Msg, State) of
        false ->
            {ok, State};
        true ->
            case erlang:process_info(Agent, message_queue_len) of
                {message_queue_len, Length} when Length < MaxQueue ->
                    Agent ! {lager_event, Msg},
                    {ok, State};
                undefined ->
                    %% The agent is gone but this handler is not: leave, and let lager recompute
                    %% its level without this mask (not from here: lager asks every handler).
                    spawn(fun() -> catch lager:update_loglevel_config(lager_event) end),
                    remove_handler;
                _ ->
                    counters:add(Dropped, 1, 1),
                    {ok, State}
            end
    end;
handle_event(_Event, State) ->
    {ok, State}.

handle_call(get_loglevel, State = #{mask := Mask}) ->
    {ok, {mask, Mask}, State};
handle_call({set_loglevel, Level}, State) ->
    case mask(Level) of
        {ok, Mask} -> {ok, ok, State#{mask := Mask}};
        error -> {ok, {error, bad_log_level}, State}
    end;
handle_call(_Request, State) ->
    {ok, ok, State}.

handle_info(_Info, State) ->
    {ok, State}.

terminate(_Reason, _State) ->
    ok.

code_change(_OldVsn, State, _Extra) ->
    {ok, State}.

%% --- internal ---

wanted(Msg, #{mask := Mask, skip_redirected := Skip}) ->
    try
        lager_msg:severity_as_int(Msg) band Mask =/= 0
            andalso not (Skip andalso redirected(lager_msg:metadata(Msg)))
    catch _:_ -> false
    end.

%% Shaped as lager's error_logger redirect makes its messages (see the module's comment).
redirected([{pid, Pid} | _] = Metadata) when is_pid(Pid); is_atom(Pid) ->
    not (lists:keymember(node, 1, Metadata) orelse lists:keymember(file, 1, Metadata));
redirected(_) ->
    false.

%% Logger's levels are lager's, plus all (lager's debug) and none.
mask(all) -> mask(debug);
mask(Level) when is_atom(Level) ->
    try lager_util:config_to_mask(Level) of
        {mask, Mask} -> {ok, Mask}
    catch _:_ -> error
    end;
mask(_) -> error.
