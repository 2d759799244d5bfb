"""ddpg.py's learning step, by hand. train() runs on the continuous chain of tests/probes.py (states
0 → 1 → 2, whatever the action; leaving s earns s + 1; the episode terminates in state 2) with its
networks replaced by tables: the actor holds one action per state, μ(s) = MU[s], and the critic is linear
in the action, Q(s, a) = V[s] + K[s] · a. With one transition a batch, each update of the critic has the
gradient of (Q(s, a) − y)² in the entries of the state learned from, and each update of the actor the
gradient of −Q(s, μ(s)), −K[s]; every target y is worked out here. The buffer is read to see what is
stored, with the exploration noise hand-set: every draw a fixed number of standard deviations above its
mean. The evaluation, the actor's tanh scaled to the bounds and the Ornstein-Uhlenbeck noise are called
directly."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import load_algorithm
from probes import (
    CHAIN_TRANSITIONS,
    CUT_TRANSITIONS,
    noise_of,
    one_hot,
    recorded_chain,
    recording_adam,
    recording_buffer,
    stored_transitions,
)

ddpg = load_algorithm("ddpg")

# The online actor and the target actor, one action per state; state 2, where episodes end, is never
# acted in, and the target actor's action there would show in a target that bootstraps from a termination.
MU = [0.3, 0.95, 0.0]
MU_TARGET = [-0.2, 0.5, -0.7]
# The online critic and the target critic, Q(s, a) = V[s] + K[s] · a.
V, K = [1.5, 1.6, 0.0], [0.4, -0.8, 0.0]
V_TARGET, K_TARGET = [0.9, 1.8, 7.0], [0.6, 0.5, 3.0]

# γ = 0.5. From state 0: r = 1, and the episode goes on to state 1, where the target actor acts
# μ⁻(1) = 0.5 and the target critic values that action: y = 1 + γ (V⁻[1] + K⁻[1] μ⁻(1))
# = 1 + 0.5 · (1.8 + 0.5 · 0.5) = 2.025. From state 1: r = 2, and the episode terminates: y = 2.
TARGETS = {0: 2.025, 1: 2.0}
# The same chain cut by a time limit in state 1: its one transition is truncated, not terminated, and
# bootstraps, y = 2.025; the step after it only resets the env and is no transition.
TARGETS_CUT = {0: 2.025}
# Each actor update climbs the online critic at the state learned from: the gradient of −Q(s, μ(s)) with
# respect to MU[s] is −∂Q/∂a · ∂μ/∂MU[s] = −K[s] · 1.
ACTOR_GRADIENTS = {0: -0.4, 1: 0.8}

# Settings under which a run on the chain learns from one transition per update from its third step on,
# and moves its tables by no more than 1e-9 an update, so that every gradient is taken at the hand-set
# values. With the targets' τ as small, the target networks keep their values too.
DDPG_PROBE = dict(
    batch_size=1,
    buffer_size=100,
    learning_starts=2,
    total_timesteps=40,
    learning_rate=1e-9,
    critic_learning_rate=1e-9,
    tau=1e-9,
    gamma=0.5,
    eval_episodes=1,
)


def tables(monkeypatch, actor=MU):
    """Replace ddpg.Actor and ddpg.Critic with tables: the first of each that train() makes, the online
    one, holds the online values, the second, the target, holds the target values. A target keeps its own
    table where train() copies the online network's into it, so that a value read from the wrong network
    shows. `actor` is the online actor's table, MU unless said. Returns the actors made and the critics
    made, in order."""
    actors, critics = [], []
    actor_tables = iter([actor, MU_TARGET])
    critic_tables = iter([(V, K), (V_TARGET, K_TARGET)])

    class TableActor(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(next(actor_tables)).unsqueeze(1))  # (state, action)
            actors.append(self)

        def forward(self, x):
            return x @ self.table

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target actor keeps its own table

    class LinearCritic(nn.Module):
        def __init__(self, obs_dim, action_dim, hidden_size):
            super().__init__()
            values, slopes = next(critic_tables)
            self.values, self.slopes = nn.Parameter(torch.tensor(values)), nn.Parameter(torch.tensor(slopes))
            critics.append(self)

        def forward(self, x, a):
            return x @ self.values + (x @ self.slopes) * a[:, 0]

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target critic keeps its own values

    monkeypatch.setattr(ddpg, "Actor", TableActor)
    monkeypatch.setattr(ddpg, "Critic", LinearCritic)
    return actors, critics


@pytest.mark.parametrize(
    ("env_id", "targets"), [("ContinuousChain-v0", TARGETS), ("ContinuousChainCut-v0", TARGETS_CUT)]
)
def test_each_critic_update_learns_the_td_error_of_a_stored_transition(monkeypatch, env_id, targets):
    tables(monkeypatch)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(ddpg, monkeypatch)
    ddpg.train(ddpg.Args(env_id=env_id, **DDPG_PROBE))
    (_, critic_optimizer), (buffer,) = optimizers, buffers
    assert len(critic_optimizer.gradients) > 20
    assert len(buffer.batches) == len(critic_optimizer.gradients)  # one batch an update
    learned_from = set()
    for (obs, actions, _, _, _), (value_gradient, slope_gradient) in zip(
        buffer.batches, critic_optimizer.gradients
    ):
        state, action = int(obs[0].argmax()), float(actions[0, 0])
        assert state in targets
        learned_from.add(state)
        # the derivative of the squared TD error (Q(s, a) − y)², at the stored action a:
        # 2 (V[s] + K[s] a − y) with respect to V[s], times a with respect to K[s]; zero elsewhere
        derivative = 2 * (V[state] + K[state] * action - targets[state])
        torch.testing.assert_close(value_gradient, derivative * one_hot(state), atol=1e-5, rtol=0)
        torch.testing.assert_close(slope_gradient, derivative * action * one_hot(state), atol=1e-5, rtol=0)
    assert learned_from == set(targets)


def test_each_actor_update_climbs_the_online_critic(monkeypatch):
    tables(monkeypatch)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(ddpg, monkeypatch)
    ddpg.train(ddpg.Args(env_id="ContinuousChain-v0", **DDPG_PROBE))
    (actor_optimizer, _), (buffer,) = optimizers, buffers
    assert len(actor_optimizer.gradients) == len(buffer.batches) > 20
    for (obs, *_), (gradient,) in zip(buffer.batches, actor_optimizer.gradients):
        state = int(obs[0].argmax())
        torch.testing.assert_close(gradient[:, 0], ACTOR_GRADIENTS[state] * one_hot(state), atol=1e-6, rtol=0)


def test_the_target_networks_follow_by_polyak_averaging(monkeypatch):
    # φ⁻ ← τ φ + (1 − τ) φ⁻ and θ⁻ ← τ θ + (1 − τ) θ⁻ after each update; the online tables hardly move at a
    # learning rate of 1e-9, so after k updates φ⁻ = φ + (1 − τ)^k (φ⁻_0 − φ), and θ⁻ likewise
    actors, critics = tables(monkeypatch)
    optimizers = recording_adam(monkeypatch)
    ddpg.train(ddpg.Args(env_id="ContinuousChain-v0", **(DDPG_PROBE | dict(tau=0.1))))
    (actor, target_actor), (critic, target_critic) = actors, critics
    k = len(optimizers[0].gradients)
    assert k > 20

    def after_k(online, target):
        online, target = torch.tensor(online), torch.tensor(target)
        return online + 0.9**k * (target - online)

    torch.testing.assert_close(target_actor.table.detach()[:, 0], after_k(MU, MU_TARGET))
    torch.testing.assert_close(target_critic.values.detach(), after_k(V, V_TARGET))
    torch.testing.assert_close(target_critic.slopes.detach(), after_k(K, K_TARGET))
    torch.testing.assert_close(actor.table.detach()[:, 0], torch.tensor(MU), atol=1e-6, rtol=0)
    torch.testing.assert_close(critic.values.detach(), torch.tensor(V), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("env_id", "transitions", "actor", "stored_actions"),
    [
        # actions in [−1, 1]: σ = 0.1 · (1 − (−1)) / 2 = 0.1, each draw + 1.5 σ = + 0.15;
        # in state 0 0.3 + 0.15 = 0.45, in state 1 0.95 + 0.15 = 1.1, clipped to the bound 1
        ("ContinuousChain-v0", CHAIN_TRANSITIONS, MU, {0: 0.45, 1: 1.0}),
        ("ContinuousChainCut-v0", CUT_TRANSITIONS, MU, {0: 0.45}),
        # actions in [0, 4]: σ = 0.1 · (4 − 0) / 2 = 0.2, each draw + 0.3; in state 0 3.9 + 0.3 = 4.2,
        # clipped to 4, in state 1 0.5 + 0.3 = 0.8
        ("WideContinuousChain-v0", CHAIN_TRANSITIONS, [3.9, 0.5, 0.0], {0: 4.0, 1: 0.8}),
    ],
)
def test_the_buffer_holds_the_transitions_with_the_actors_noisy_clipped_actions(
    monkeypatch, env_id, transitions, actor, stored_actions
):
    tables(monkeypatch, actor=actor)
    scales, buffers = noise_of(monkeypatch, z=1.5), recording_buffer(ddpg, monkeypatch)
    ddpg.train(ddpg.Args(env_id=env_id, **DDPG_PROBE))
    (buffer,) = buffers
    space = gym.make(env_id).action_space
    low, high = space.low[0], space.high[0]
    assert scales and all(scale == pytest.approx(0.1 * (high - low) / 2) for scale in scales)
    stored = stored_transitions(buffer)
    assert stored == transitions
    # the first two steps, before learning starts, act uniformly at random within the bounds; then
    # μ(s) + noise, clipped to the bounds
    assert all(low <= action <= high for action in buffer.actions[:2, 0])
    for i in range(2, buffer.size):
        state = int(buffer.obs[i].argmax())
        assert buffer.actions[i, 0] == pytest.approx(stored_actions[state]), i


def test_the_evaluation_plays_the_actors_action_without_noise(monkeypatch):
    tables(monkeypatch)
    actor, critic = ddpg.Actor(3, None, 0), ddpg.Critic(3, 1, 0)  # the online tables
    env, envs = recorded_chain()
    returns, predicted, discounted = ddpg.evaluate(actor, critic, envs, 2, 0, torch.device("cpu"), 0.5)
    assert env.actions == pytest.approx([0.3, 0.95] * 2)  # μ(0), μ(1) of each episode, as they are
    assert returns == [3.0, 3.0]  # 1 + 2
    assert discounted == [2.0, 2.0]  # 1 + γ 2
    # the critic's value of the first state and the actor's action there: V[0] + K[0] μ(0) = 1.5 + 0.4 · 0.3
    assert predicted == pytest.approx([1.62, 1.62])


@pytest.mark.parametrize("name", ["ddpg", "td3"])  # td3.py's actor is ddpg.py's
def test_the_actor_maps_tanh_onto_the_action_bounds(name):
    # μ(s) = center + scale · tanh(·), with center = (high + low) / 2 = 2 and scale = (high − low) / 2 = 2
    # for actions in [0, 4]; with the last layer's weights zero, its bias b alone is tanh's argument
    actor = load_algorithm(name).Actor(3, gym.spaces.Box(0.0, 4.0, (1,)), hidden_size=8)
    last = actor.network[-2]
    with torch.no_grad():
        last.weight.zero_()
        for bias, action in [(0.0, 2.0), (math.atanh(0.5), 3.0), (math.atanh(-0.5), 1.0), (100.0, 4.0)]:
            last.bias.fill_(bias)
            assert actor(torch.ones(5, 3))[:, 0].tolist() == pytest.approx([action] * 5)


@pytest.mark.parametrize("name", ["ddpg", "td3"])  # td3.py keeps ddpg.py's --ou-noise
def test_the_ornstein_uhlenbeck_noise_by_hand(monkeypatch, name):
    # x ← x − θ x dt + σ √dt N(0, 1), θ = 0.15, σ = 0.2, dt = 0.01: with every draw 1, σ √dt = 0.02
    noise_of(monkeypatch, z=1.0)
    ou = load_algorithm(name).OrnsteinUhlenbeck((2, 1))
    no_restart = np.array([False, False])
    assert ou(no_restart)[:, 0] == pytest.approx([0.02, 0.02])  # 0 − 0 + 0.02
    assert ou(no_restart)[:, 0] == pytest.approx([0.03997, 0.03997])  # 0.02 − 0.15 · 0.02 · 0.01 + 0.02
    # the first env begins a new episode, and its process starts again from 0
    assert ou(np.array([True, False]))[:, 0] == pytest.approx([0.02, 0.03997 - 0.15 * 0.03997 * 0.01 + 0.02])
