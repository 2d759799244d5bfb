"""ddpg.py's learning step, by hand. train() runs on the continuous chain of tests/probes.py (states
0 → 1 → 2, whatever the action; leaving s earns s + 1; the episode terminates in state 2) with its
networks replaced by tables: the actor holds one action per state, μ(s) = MU[s], and the critic is linear
in the action, Q(s, a) = V[s] + K[s] · a. With one transition a batch, each update of the critic has the
gradient of (Q(s, a) − y)² in the entries of the state learned from, and each update of the actor the
gradient of −Q(s, μ(s)), −K[s]; every target y is worked out here. The buffer is read to see what is
stored, with the exploration noise hand-set: every draw a fixed number of standard deviations above its
mean. The evaluation, the actor's tanh scaled to the bounds and the Ornstein-Uhlenbeck noise are called
directly.

The same learning step runs on two action dimensions of different bounds, PlaneChain-v0's [0, 4] × [−1, 1],
from batches of two transitions, where an action, a slope and a gradient are vectors, and each loss is
the mean over its batch. Besides, for ddpg.py and td3.py, which explore alike, each action dimension
explored with its own noise and clipped to its own bounds, on both sides; and for the three files of
continuous control, ddpg.py, td3.py and sac.py: the target networks start as copies of the online ones,
each network learns at its own learning rate, and the replay buffer keeps the newest transitions and
samples them uniformly."""

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
    linear_in_action,
    noise_of,
    one_hot,
    recorded_chain,
    recording_adam,
    recording_buffer,
    recording_instances,
    squared_error_gradients,
    stored_transitions,
    table_actor,
)

ddpg = load_algorithm("ddpg")

# The online actor and the target actor, one action per state; state 2, where episodes end, is never
# acted in, and the target actor's action there would show in a target that bootstraps from a termination.
MU = [0.3, 0.95, 0.0]
MU_TARGET = [-0.2, 0.5, -0.7]
# The online critic and the target critic, Q(s, a) = V[s] + K[s] · a.
V, K = [1.5, 1.6, 0.0], [0.4, -0.8, 0.0]
V_TARGET, K_TARGET = [0.9, 1.8, 7.0], [0.6, 0.5, 3.0]

# The same on PlaneChain-v0, two action dimensions in [0, 4] × [−1, 1]: an action per state is a vector,
# and so is each slope, K[s] · a = K[s, 0] a_0 + K[s, 1] a_1.
MU_2D = [[3.0, -0.5], [1.0, 0.8], [0.0, 0.0]]
MU_TARGET_2D = [[2.5, 0.2], [0.5, -0.4], [3.0, 0.9]]
V_2D, K_2D = V, [[0.4, -0.3], [-0.8, 0.5], [0.0, 0.0]]
V_TARGET_2D, K_TARGET_2D = V_TARGET, [[0.6, 0.1], [0.5, -1.0], [3.0, 2.0]]

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
# On two action dimensions, from state 0: μ⁻(1) = (0.5, −0.4), y = 1 + γ (V⁻[1] + K⁻[1] · μ⁻(1))
# = 1 + 0.5 · (1.8 + 0.5 · 0.5 + (−1.0) · (−0.4)) = 2.225; from state 1, y = 2.
TARGETS_2D = {0: 2.225, 1: 2.0}
# The updates of a probe run: one at each step from the first after which the buffer holds more than 2
# transitions, steps 4 to 40 on the chain; on the cut chain, whose every other step only resets the env,
# steps 5 to 40.
UPDATES = {"ContinuousChain-v0": 37, "ContinuousChainCut-v0": 36}

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


def tables(monkeypatch, actor=MU, target_actor=MU_TARGET, critic=(V, K), target_critic=(V_TARGET, K_TARGET)):
    """Replace ddpg.Actor and ddpg.Critic with tables: the first of each that train() makes, the online
    one, holds the online values, the second, the target, holds the target values. A target keeps its own
    table where train() copies the online network's into it, so that a value read from the wrong network
    shows. The tables are those of one action dimension unless said. Returns the actors made and the
    critics made, in order."""
    actors, critics = [], []
    critic_tables = iter([critic, target_critic])

    class LinearCritic(nn.Module):
        def __init__(self, obs_dim, action_dim, hidden_size):
            super().__init__()
            values, slopes = next(critic_tables)
            self.values, self.slopes = nn.Parameter(torch.tensor(values)), nn.Parameter(torch.tensor(slopes))
            critics.append(self)

        def forward(self, x, a):
            return linear_in_action(x, self.values, self.slopes, a)

        def load_state_dict(self, state_dict, strict=True, assign=False):
            pass  # the target critic keeps its own values

    monkeypatch.setattr(ddpg, "Actor", table_actor([actor, target_actor], actors))
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
    assert len(critic_optimizer.gradients) == UPDATES[env_id]
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
    ("env_id", "transitions", "actor", "sigma", "stored_actions"),
    [
        # actions in [−1, 1]: σ = 0.1 · (1 − (−1)) / 2 = 0.1, each draw + 1.5 σ = + 0.15;
        # in state 0 0.3 + 0.15 = 0.45, in state 1 0.95 + 0.15 = 1.1, clipped to the bound 1
        ("ContinuousChain-v0", CHAIN_TRANSITIONS, MU, 0.1, {0: 0.45, 1: 1.0}),
        ("ContinuousChainCut-v0", CUT_TRANSITIONS, MU, 0.1, {0: 0.45}),
        # actions in [0, 4]: σ = 0.1 · (4 − 0) / 2 = 0.2, each draw + 0.3; in state 0 3.9 + 0.3 = 4.2,
        # clipped to 4, in state 1 0.5 + 0.3 = 0.8
        ("WideContinuousChain-v0", CHAIN_TRANSITIONS, [3.9, 0.5, 0.0], 0.1, {0: 4.0, 1: 0.8}),
        # --exploration-noise 0.3, not the default: σ = 0.3, each draw + 0.45; 0.75 in state 0
        ("ContinuousChain-v0", CHAIN_TRANSITIONS, MU, 0.3, {0: 0.75, 1: 1.0}),
    ],
)
def test_the_buffer_holds_the_transitions_with_the_actors_noisy_clipped_actions(
    monkeypatch, env_id, transitions, actor, sigma, stored_actions
):
    tables(monkeypatch, actor=actor)
    scales, buffers = noise_of(monkeypatch, z=1.5), recording_buffer(ddpg, monkeypatch)
    ddpg.train(ddpg.Args(env_id=env_id, exploration_noise=sigma, **DDPG_PROBE))
    (buffer,) = buffers
    space = gym.make(env_id).action_space
    low, high = space.low[0], space.high[0]
    # a draw at each step from step 3 on, once learning starts: 38 of them
    assert len(scales) == 38 and all(scale == pytest.approx(sigma * (high - low) / 2) for scale in scales)
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


# ---- two action dimensions: PlaneChain-v0, actions in [0, 4] × [−1, 1] ----


def test_on_two_action_dimensions_each_update_learns_the_mean_over_its_batch(monkeypatch):
    # batches of two transitions: the critic's gradient is the mean over the batch of each transition's
    # (squared_error_gradients), toward y = 2.225 from state 0 and 2 from state 1 (TARGETS_2D); the actor's,
    # of −mean_b Q(s_b, μ(s_b)), is −K[s] / 2 in MU[s] for each transition from s, a vector: (−0.2, 0.15)
    # in state 0, (0.4, −0.25) in state 1
    tables(monkeypatch, MU_2D, MU_TARGET_2D, (V_2D, K_2D), (V_TARGET_2D, K_TARGET_2D))
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(ddpg, monkeypatch)
    ddpg.train(ddpg.Args(env_id="PlaneChain-v0", **(DDPG_PROBE | dict(batch_size=2))))
    (actor_optimizer, critic_optimizer), (buffer,) = optimizers, buffers
    assert len(buffer.batches) == len(critic_optimizer.gradients) == len(actor_optimizer.gradients) == 37
    assert all(len(obs) == 2 for obs, *_ in buffer.batches)
    learned_from = set()
    for batch, critic_gradients, (actor_gradient,) in zip(
        buffer.batches, critic_optimizer.gradients, actor_optimizer.gradients
    ):
        expected = squared_error_gradients(batch, V_2D, K_2D, TARGETS_2D)
        torch.testing.assert_close(tuple(critic_gradients), expected, atol=1e-5, rtol=0)
        expected = torch.zeros(3, 2)
        for state in batch[0].argmax(dim=1).tolist():
            expected[state] -= torch.tensor(K_2D[state]) / 2
            learned_from.add(state)
        torch.testing.assert_close(actor_gradient, expected, atol=1e-6, rtol=0)
    assert learned_from == {0, 1}


# The online actor of the exploration test: in state 0 near the upper bound of the first dimension and the
# lower of the second, in state 1 the other way round, so that noise of either sign pushes one action of
# each dimension past each of its bounds.
PLANE_ACTOR = [[3.9, -0.95], [0.1, 0.9], [0.0, 0.0]]


@pytest.mark.parametrize("name", ["ddpg", "td3"])  # td3.py explores as ddpg.py does
@pytest.mark.parametrize(
    ("z", "ou_noise", "stored_actions"),
    [
        # σ = 0.1 times half the range of each dimension, (0.2, 0.1); every draw z = (1.5, −1.5) standard
        # deviations, noise (0.3, −0.15): in state 0 (4.2, −1.1), clipped to (4, −1); in state 1 (0.4, 0.75)
        ((1.5, -1.5), False, {0: (4.0, -1.0), 1: (0.4, 0.75)}),
        # z = (−1.5, 1.5), noise (−0.3, 0.15): in state 0 (3.6, −0.8); in state 1 (−0.2, 1.05), clipped to (0, 1)
        ((-1.5, 1.5), False, {0: (3.6, -0.8), 1: (0.0, 1.0)}),
        # Ornstein-Uhlenbeck, every draw (1, −1): x = ±0.02 at the step that resets the env, where the process
        # restarts, then ±0.03997 in state 0 and ±0.0599100 in state 1 (test_the_ornstein_uhlenbeck_noise_by_hand),
        # times half the range of each dimension, (2, 1)
        (
            (1.0, -1.0),
            True,
            {0: (3.9 + 2 * 0.03997, -0.95 - 0.03997), 1: (0.1 + 2 * 0.0599100, 0.9 - 0.0599100)},
        ),
    ],
)
def test_on_two_action_dimensions_each_is_explored_with_its_own_noise_and_clipped_to_its_own_bounds(
    monkeypatch, name, z, ou_noise, stored_actions
):
    module = load_algorithm(name)
    monkeypatch.setattr(module, "Actor", table_actor([PLANE_ACTOR, PLANE_ACTOR], []))  # the critics are real
    scales, buffers = noise_of(monkeypatch, z), recording_buffer(module, monkeypatch)
    module.train(module.Args(env_id="PlaneChain-v0", ou_noise=ou_noise, hidden_size=8, **DDPG_PROBE))
    (buffer,) = buffers
    # a draw at each step from step 3 on, a noise per env and per dimension (noise_of checks its shape)
    assert len(scales) == 38
    if not ou_noise:
        assert all(scale == pytest.approx([0.2, 0.1]) for scale in scales)
    assert stored_transitions(buffer) == CHAIN_TRANSITIONS
    # the first two steps act uniformly at random, within the bounds
    assert all(0 <= a_0 <= 4 and -1 <= a_1 <= 1 for a_0, a_1 in buffer.actions[:2])
    for i in range(2, buffer.size):
        assert buffer.actions[i] == pytest.approx(stored_actions[int(buffer.obs[i].argmax())], abs=1e-6), i


@pytest.mark.parametrize("name", ["ddpg", "td3"])
def test_the_actor_maps_tanh_onto_each_action_dimensions_own_bounds(name):
    # on [0, 4] × [−1, 1], center (2, 0) and scale (2, 1): μ(s) = (2 + 2 tanh(b_0), tanh(b_1)), with the last
    # layer's weights zero and its biases b the arguments of tanh
    actor = load_algorithm(name).Actor(3, gym.make("PlaneChain-v0").action_space, hidden_size=8)
    last = actor.network[-2]
    with torch.no_grad():
        last.weight.zero_()
        for biases, action in [((0.0, 0.0), (2.0, 0.0)), ((math.atanh(0.5), math.atanh(-0.5)), (3.0, -0.5))]:
            last.bias.copy_(torch.tensor(biases))
            torch.testing.assert_close(actor(torch.ones(5, 3)), torch.tensor([action] * 5))


def test_the_critic_gives_one_value_a_transition_from_every_action_dimension():
    # a value per transition, (batch,), not (batch, 1), which would broadcast against a target of (batch,);
    # and one that changes with the second dimension of the action as with the first
    critic = ddpg.Critic(obs_dim=3, action_dim=2, hidden_size=8)
    actions = torch.zeros(5, 2)
    q = critic(torch.ones(5, 3), actions)
    assert q.shape == (5,)
    for dimension in range(2):
        assert not torch.equal(critic(torch.ones(5, 3), actions + torch.eye(2)[dimension]), q)


@pytest.mark.parametrize("name", ["ddpg", "td3", "sac"])
def test_the_target_networks_start_as_copies_of_the_online_ones(monkeypatch, name):
    # the real networks, of 8 units, learning at a rate of 1e-9 and followed with τ = 1e-9: in 40 steps
    # neither the online networks nor the targets move by 1e-6, so targets that start as copies of the
    # online networks end equal to them to 1e-6, where networks initialised apart differ by some 0.1
    module = load_algorithm(name)
    actors, critics = (recording_instances(module, monkeypatch, network) for network in ("Actor", "Critic"))
    module.train(module.Args(env_id="PlaneChain-v0", hidden_size=8, **DDPG_PROBE))
    pairs = [critics] if name == "sac" else [actors, critics]  # sac.py has no target actor
    assert len(actors) == (1 if name == "sac" else 2) and len(critics) == 2
    for online, target in pairs:
        torch.testing.assert_close(target.state_dict(), online.state_dict(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["ddpg", "td3", "sac"])
@pytest.mark.parametrize("fast", ["learning_rate", "critic_learning_rate"])
def test_each_network_learns_at_its_own_learning_rate(monkeypatch, name, fast):
    # --learning-rate is the actor's (and sac.py's α's), --critic-learning-rate the critics'. One of them
    # 1e-3, the other 1e-9: Adam moves a parameter by about its rate at each of the 37 updates (18 of
    # td3.py's actor), so the parameters of the first move by more than 1e-4 from where their optimizer
    # found them, those of the second by less than 1e-6
    module = load_algorithm(name)
    networks = ("Actor", "Critic", "Temperature") if name == "sac" else ("Actor", "Critic")
    made = [recording_instances(module, monkeypatch, network) for network in networks]
    optimizers = []

    class Adam(torch.optim.Adam):  # keeps its parameters as it found them
        def __init__(self, params, *args, **kwargs):
            super().__init__(params, *args, **kwargs)
            self.initial = [param.detach().clone() for param in self.param_groups[0]["params"]]
            optimizers.append(self)

    monkeypatch.setattr(torch.optim, "Adam", Adam)
    module.train(module.Args(env_id="PlaneChain-v0", hidden_size=8, **(DDPG_PROBE | {fast: 1e-3})))
    # the optimizers, in the order made: the online actor's, the online critics', and sac.py's α's
    rates = ["learning_rate", "critic_learning_rate", "learning_rate"][: len(networks)]
    for optimizer, (network, *_), rate in zip(optimizers, made, rates, strict=True):
        parameters = optimizer.param_groups[0]["params"]
        assert list(map(id, parameters)) == list(map(id, network.parameters()))
        moved = max(
            float((param.detach() - initial).abs().max())
            for param, initial in zip(parameters, optimizer.initial)
        )
        assert (moved > 1e-4) if rate == fast else (moved < 1e-6), (rate, type(network))


@pytest.mark.parametrize("name", ["ddpg", "td3", "sac"])  # the same buffer in the three files
def test_the_buffer_keeps_the_newest_transitions_and_samples_them_uniformly(name):
    # a buffer of 3 transitions, given two at a time (two envs): the transitions numbered 1, 2, then 3, 4,
    # the 4 overwriting the oldest, the 1. Each draw is then one of 2, 3, 4, with probability 1/3 each (to
    # ±0.02 in 30,000 draws), and each part of a transition is drawn with the others
    rb = load_algorithm(name).ReplayBuffer(3, obs_dim=3, action_dim=2, device=torch.device("cpu"), seed=0)
    for numbers in (np.array([1.0, 2.0]), np.array([3.0, 4.0])):
        columns = np.stack([numbers, -numbers, 10 * numbers], axis=1)
        rb.add(columns, columns + 1, columns[:, :2], numbers, numbers % 2)
    assert rb.size == 3
    obs, actions, rewards, next_obs, terminations = rb.sample(30_000)
    assert sorted(set(rewards.tolist())) == [2.0, 3.0, 4.0]
    for number in (2.0, 3.0, 4.0):
        assert float((rewards == number).float().mean()) == pytest.approx(1 / 3, abs=0.02)
    numbers = torch.stack([rewards, -rewards, 10 * rewards], dim=1)
    torch.testing.assert_close(obs, numbers)
    torch.testing.assert_close(next_obs, numbers + 1)
    torch.testing.assert_close(actions, numbers[:, :2])
    torch.testing.assert_close(terminations, rewards % 2)
