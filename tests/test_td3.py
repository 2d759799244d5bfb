"""td3.py's learning step, by hand, on the continuous chain of tests/probes.py (states 0 → 1 → 2, whatever
the action; leaving s earns s + 1; the episode terminates in state 2), as tests/test_ddpg.py does for
ddpg.py: the actor is a table, μ(s) = MU[s], and each of the two critics is linear in the action,
Q_i(s, a) = V_i[s] + K_i[s] · a. What TD3 adds is pinned here: the smaller of the two target critics in
the target, at a target action smoothed by noise (hand-set: every draw of torch.randn_like is z), clipped
to ±c and then to the bounds; both critics learning toward it; and the actor and the targets updated
every d-th step only, the actor climbing the first critic. On two action dimensions of different bounds
(PlaneChain-v0, [0, 4] × [−1, 1]), from batches of two, the target action's noise is a draw per dimension,
clipped and scaled in each, and the action clipped to each dimension's own bounds, on either side."""

import gymnasium as gym
import pytest
import torch
from conftest import load_algorithm
from probes import (
    CHAIN_TRANSITIONS,
    noise_of,
    one_hot,
    recorded_chain,
    recording_adam,
    recording_buffer,
    squared_error_gradients,
    stored_transitions,
    table_actor,
    twin_linear_critic,
)

td3 = load_algorithm("td3")

MU = [0.3, 0.95, 0.0]
MU_TARGET = [-0.2, 0.6, -0.7]
# The online critics and the target critics: (V_1, K_1, V_2, K_2). In state 1 the target critics cross
# at a = 0.5: Q_1⁻(1, a) = 1.8 + 0.5 a is the smaller below it, Q_2⁻(1, a) = 2.0 + 0.1 a above it. State 2,
# where episodes end, holds values that would show in a target that bootstraps from a termination.
CRITICS = ([1.5, 1.6, 0.0], [0.4, -0.8, 0.0], [1.2, 1.9, 0.0], [-0.3, 0.6, 0.0])
TARGET_CRITICS = ([0.9, 1.8, 7.0], [0.6, 0.5, 3.0], [0.4, 2.0, 5.0], [0.2, 0.1, 4.0])

# The target action in state 1: μ⁻(1) = 0.6, plus the noise σ̃ z = 0.2 z clipped to ±c = ±0.5, times half
# the action range, then clipped to the bounds. The target from state 0 is y = 1 + γ min_i Q_i⁻(1, a'),
# γ = 0.5; from state 1 the episode terminates, y = 2.
SMOOTHED_TARGETS = [
    # actions in [−1, 1]: z = 1.5, noise 0.3, a' = 0.9: Q_1⁻ = 2.25, Q_2⁻ = 2.09, y = 1 + 0.5 · 2.09
    ("ContinuousChain-v0", 1.5, 2.045),
    # z = 5: the noise 1.0 clipped to 0.5, a' = 1.1 clipped to the bound 1: Q_2⁻ = 2.1 < Q_1⁻ = 2.3
    ("ContinuousChain-v0", 5.0, 2.05),
    # z = −5: the noise clipped to −0.5, a' = 0.1: Q_1⁻ = 1.85 < Q_2⁻ = 2.01
    ("ContinuousChain-v0", -5.0, 1.925),
    # the time limit cuts the episode in state 1: truncated, it bootstraps as above
    ("ContinuousChainCut-v0", 1.5, 2.045),
    # actions in [0, 4], half the range 2: z = 1.5, noise 0.3 · 2, a' = 1.2: Q_2⁻ = 2.12 < Q_1⁻ = 2.4
    ("WideContinuousChain-v0", 1.5, 2.06),
    # z = −5: the noise −0.5 · 2, a' = −0.4 clipped to the bound 0: Q_1⁻ = 1.8 < Q_2⁻ = 2.0
    ("WideContinuousChain-v0", -5.0, 1.9),
    # z = 5: the noise 1.0 clipped to 0.5, times 2, a' = 1.6 within the bounds: Q_2⁻ = 2.16 < Q_1⁻ = 2.6
    ("WideContinuousChain-v0", 5.0, 2.08),
]
# The same with σ̃ = 0.1 and c = 0.25, not the defaults: the noise is 0.1 z, clipped to ±0.25
SMOOTHED_TARGETS_OF_THEIR_OWN = [
    # z = 1.5: the noise 0.15, a' = 0.75: Q_2⁻ = 2.075 < Q_1⁻ = 2.175
    ("ContinuousChain-v0", 1.5, 2.0375),
    # z = 5: the noise 0.5 clipped to 0.25, a' = 0.85 within the bounds: Q_2⁻ = 2.085 < Q_1⁻ = 2.225
    ("ContinuousChain-v0", 5.0, 2.0425),
    # z = −5: the noise clipped to −0.25, a' = 0.35: Q_1⁻ = 1.975 < Q_2⁻ = 2.035
    ("ContinuousChain-v0", -5.0, 1.9875),
]
NOISE_OF_ITS_OWN = dict(policy_noise=0.1, noise_clip=0.25)

TD3_PROBE = dict(
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

# The updates of the 40 steps of a probe run: one a step of the vector env, from the first after which the
# buffer holds more than 2 transitions. One env: steps 1 and 2 are stored, step 3 only resets, so updates
# run at steps 4 to 40. Two envs: each step stores two transitions (but the reset steps 3, 6, …), so
# updates run at the vector env's steps 2 to 20.
UPDATES = {1: range(4, 41), 2: range(2, 21)}


def tables(monkeypatch, actor=MU, target_actor=MU_TARGET, critics=CRITICS, target_critics=TARGET_CRITICS):
    """Replace td3.Actor and td3.Critic with tables: the first of each that train() makes, the online one,
    holds the online values, the second, the target, holds the target values; those of one action
    dimension unless said. Returns the actors made and the critics made, in order."""
    actors, made = [], []
    monkeypatch.setattr(td3, "Actor", table_actor([actor, target_actor], actors))
    monkeypatch.setattr(td3, "Critic", twin_linear_critic([critics, target_critics], made))
    return actors, made


def target_noise(monkeypatch, z):
    """Every draw of torch.randn_like is z: the target policy's noise, hand-set. With z one number per
    action dimension, each draw must be a noise per transition and per dimension, (batch, dims)."""

    def randn_like(tensor):
        if isinstance(z, float):
            return torch.full_like(tensor, z)
        assert tensor.dim() == 2 and tensor.shape[1] == len(z), f"a draw of shape {tuple(tensor.shape)}"
        return torch.tensor(z).expand_as(tensor).clone()

    monkeypatch.setattr(torch, "randn_like", randn_like)


@pytest.mark.parametrize(
    ("env_id", "z", "target_from_0", "noise"),
    [(*case, {}) for case in SMOOTHED_TARGETS]
    + [(*case, NOISE_OF_ITS_OWN) for case in SMOOTHED_TARGETS_OF_THEIR_OWN],
)
def test_both_critics_learn_the_smaller_target_critic_at_the_smoothed_target_action(
    monkeypatch, env_id, z, target_from_0, noise
):
    tables(monkeypatch)
    target_noise(monkeypatch, z)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(td3, monkeypatch)
    td3.train(td3.Args(env_id=env_id, **TD3_PROBE, **noise))
    (_, critic_optimizer), (buffer,) = optimizers, buffers
    assert len(buffer.batches) == len(critic_optimizer.gradients)  # one batch an update
    if env_id != "ContinuousChainCut-v0":  # whose episodes are one step and one reset
        assert len(critic_optimizer.gradients) == len(UPDATES[1])
    targets = {0: target_from_0, 1: 2.0}
    learned_from = set()
    for (obs, actions, _, _, _), gradients in zip(buffer.batches, critic_optimizer.gradients):
        state, action = int(obs[0].argmax()), float(actions[0, 0])
        learned_from.add(state)
        # each critic's squared TD error toward the same target: 2 (V_i[s] + K_i[s] a − y) with respect
        # to V_i[s], times a with respect to K_i[s]
        for i in range(2):
            v, k = CRITICS[2 * i], CRITICS[2 * i + 1]
            derivative = 2 * (v[state] + k[state] * action - targets[state])
            value_gradient, slope_gradient = gradients[2 * i], gradients[2 * i + 1]
            torch.testing.assert_close(value_gradient, derivative * one_hot(state), atol=1e-5, rtol=0)
            torch.testing.assert_close(
                slope_gradient, derivative * action * one_hot(state), atol=1e-5, rtol=0
            )
    assert learned_from == ({0} if "Cut" in env_id else {0, 1})


@pytest.mark.parametrize(("d", "num_envs"), [(2, 1), (3, 1), (2, 2)])
def test_the_actor_climbs_the_first_critic_every_dth_update(monkeypatch, d, num_envs):
    tables(monkeypatch)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(td3, monkeypatch)
    td3.train(td3.Args(env_id="ContinuousChain-v0", policy_frequency=d, num_envs=num_envs, **TD3_PROBE))
    (actor_optimizer, critic_optimizer), (buffer,) = optimizers, buffers
    # the critics learn at every update; the actor at the updates that d divides (counted in updates, not
    # in env steps), from the same batch as the critics
    updates = UPDATES[num_envs]
    assert len(critic_optimizer.gradients) == len(updates)
    batches_of_actor = [batch for update, batch in zip(updates, buffer.batches) if update % d == 0]
    assert len(actor_optimizer.gradients) == len(batches_of_actor)
    for (obs, *_), (gradient,) in zip(batches_of_actor, actor_optimizer.gradients):
        state = int(obs[0].argmax())
        # the gradient of −Q_1(s, μ(s)) with respect to MU[s]: −K_1[s]
        torch.testing.assert_close(gradient[:, 0], -CRITICS[1][state] * one_hot(state), atol=1e-6, rtol=0)


@pytest.mark.parametrize("d", [1, 2])
def test_the_targets_follow_by_polyak_averaging_every_dth_update(monkeypatch, d):
    # after k updates of the targets, with the online tables still at their values (a learning rate of
    # 1e-9), φ⁻ = φ + (1 − τ)^k (φ⁻_0 − φ), and each θ_i⁻ likewise; k is the number of the actor's updates
    actors, critics = tables(monkeypatch)
    optimizers = recording_adam(monkeypatch)
    td3.train(td3.Args(env_id="ContinuousChain-v0", policy_frequency=d, **(TD3_PROBE | dict(tau=0.1))))
    (actor, target_actor), (_, target_critic) = actors, critics
    k = len(optimizers[0].gradients)
    assert k == sum(update % d == 0 for update in UPDATES[1])

    def after_k(online, target):
        online, target = torch.tensor(online), torch.tensor(target)
        return online + 0.9**k * (target - online)

    torch.testing.assert_close(target_actor.table.detach()[:, 0], after_k(MU, MU_TARGET))
    for table, online, target in zip(target_critic.tables, CRITICS, TARGET_CRITICS):
        torch.testing.assert_close(table.detach(), after_k(online, target))
    torch.testing.assert_close(actor.table.detach()[:, 0], torch.tensor(MU), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("env_id", "actor", "sigma", "stored_actions"),
    [
        # exploration is ddpg.py's: actions in [−1, 1], σ = 0.1 · half the range = 0.1, each draw + 1.5 σ;
        # in state 0 0.3 + 0.15, in state 1 0.95 + 0.15 clipped to the bound 1
        ("ContinuousChain-v0", MU, 0.1, {0: 0.45, 1: 1.0}),
        # actions in [0, 4]: σ = 0.2, each draw + 0.3; 3.9 + 0.3 clipped to 4, and 0.5 + 0.3
        ("WideContinuousChain-v0", [3.9, 0.5, 0.0], 0.1, {0: 4.0, 1: 0.8}),
        # --exploration-noise 0.3: σ = 0.3, each draw + 0.45; 0.75 in state 0
        ("ContinuousChain-v0", MU, 0.3, {0: 0.75, 1: 1.0}),
    ],
)
def test_the_buffer_holds_the_transitions_with_the_actors_noisy_clipped_actions(
    monkeypatch, env_id, actor, sigma, stored_actions
):
    tables(monkeypatch, actor)
    scales, buffers = noise_of(monkeypatch, z=1.5), recording_buffer(td3, monkeypatch)
    td3.train(td3.Args(env_id=env_id, exploration_noise=sigma, **TD3_PROBE))
    (buffer,) = buffers
    space = gym.make(env_id).action_space
    # uniform actions at steps 1 and 2, up to --learning-starts; from step 3 on the actor's, noisy
    assert len(scales) == 38 and all(
        scale == pytest.approx(sigma * (space.high - space.low)[0] / 2) for scale in scales
    )
    stored = stored_transitions(buffer)
    assert stored == CHAIN_TRANSITIONS
    for i in range(2, buffer.size):
        assert buffer.actions[i, 0] == pytest.approx(stored_actions[int(buffer.obs[i].argmax())]), i


def test_the_evaluation_plays_the_actors_action_and_the_first_critic_predicts(monkeypatch):
    tables(monkeypatch)
    actor, critic = td3.Actor(3, None, 0), td3.Critic(3, 1, 0)  # the online tables
    env, envs = recorded_chain()
    returns, predicted, discounted = td3.evaluate(actor, critic, envs, 2, 0, torch.device("cpu"), 0.5)
    assert env.actions == pytest.approx([0.3, 0.95] * 2)  # μ(0), μ(1) of each episode, without noise
    assert returns == [3.0, 3.0] and discounted == [2.0, 2.0]
    # Q_1(0, μ(0)) = 1.5 + 0.4 · 0.3
    assert predicted == pytest.approx([1.62, 1.62])


@pytest.mark.parametrize("name", ["td3", "sac"])
def test_the_twin_critics_give_one_value_a_transition_each_and_start_apart(name):
    # a value per transition, (batch,), not (batch, 1), which would broadcast against a target of (batch,)
    critic = load_algorithm(name).Critic(obs_dim=3, action_dim=2, hidden_size=8)
    q1, q2 = critic(torch.ones(5, 3), torch.ones(5, 2))
    assert q1.shape == q2.shape == (5,)
    assert not torch.equal(q1, q2)  # initialised apart


# ---- two action dimensions: PlaneChain-v0, actions in [0, 4] × [−1, 1], half their ranges (2, 1) ----
MU_2D = [[3.0, -0.5], [1.0, 0.8], [0.0, 0.0]]
CRITICS_2D = (
    [1.5, 1.6, 0.0],
    [[0.4, -0.3], [-0.8, 0.5], [0.0, 0.0]],
    [1.2, 1.9, 0.0],
    [[-0.3, 0.2], [0.6, -0.4], [0.0, 0.0]],
)
# In state 1, Q_1⁻(1, a) = 1.8 + 0.5 a_0 − a_1 and Q_2⁻(1, a) = 2.1 + 0.1 a_0 + 0.4 a_1.
TARGET_CRITICS_2D = (
    [0.9, 1.8, 7.0],
    [[0.6, 0.1], [0.5, -1.0], [3.0, 2.0]],
    [0.4, 2.1, 5.0],
    [[0.2, 0.3], [0.1, 0.4], [4.0, 1.0]],
)
# The target actor's action in state 1, μ⁻(1), the noise's z (one per dimension), and the target from
# state 0: the noise σ̃ z = 0.2 z clipped to ±0.5 in each dimension, times half its range, added to μ⁻(1),
# and each dimension clipped to its bounds; y = 1 + γ min_i Q_i⁻(1, a').
SMOOTHED_TARGETS_2D = [
    # noise (0.3, −0.3) · (2, 1): a' = (4.2, −1.1) clipped to (4, −1), the first dimension at its upper
    # bound, the second at its lower: Q_1⁻ = 4.8, Q_2⁻ = 2.1, y = 1 + 0.5 · 2.1
    ((3.6, -0.8), (1.5, -1.5), 2.05),
    # noise (−0.3, 0.3) · (2, 1): a' = (−0.2, 1.1) clipped to (0, 1), the other two bounds: Q_1⁻ = 0.8,
    # Q_2⁻ = 2.5, y = 1 + 0.5 · 0.8
    ((0.4, 0.8), (-1.5, 1.5), 1.4),
    # noise (−1, 1) clipped to (−0.5, 0.5), times (2, 1): a' = (2.6, −0.3): Q_1⁻ = 3.4, Q_2⁻ = 2.24, y = 2.12
    ((3.6, -0.8), (-5.0, 5.0), 2.12),
    # noise (1, −1) clipped to (0.5, −0.5), times (2, 1): a' = (1.4, 0.3): Q_1⁻ = 2.2, Q_2⁻ = 2.36, y = 2.1
    ((0.4, 0.8), (5.0, -5.0), 2.1),
]


@pytest.mark.parametrize(("target_action", "z", "target_from_0"), SMOOTHED_TARGETS_2D)
def test_on_two_action_dimensions_the_target_action_is_smoothed_and_clipped_in_each_dimension(
    monkeypatch, target_action, z, target_from_0
):
    tables(monkeypatch, MU_2D, [[2.5, 0.2], target_action, [3.0, 0.9]], CRITICS_2D, TARGET_CRITICS_2D)
    target_noise(monkeypatch, z)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(td3, monkeypatch)
    td3.train(td3.Args(env_id="PlaneChain-v0", **(TD3_PROBE | dict(batch_size=2))))
    (actor_optimizer, critic_optimizer), (buffer,) = optimizers, buffers
    assert len(buffer.batches) == len(critic_optimizer.gradients) == len(UPDATES[1])
    assert all(len(obs) == 2 for obs, *_ in buffer.batches)
    # batches of two transitions: each critic learns toward the same target, the mean over the batch
    targets = {0: target_from_0, 1: 2.0}
    for batch, gradients in zip(buffer.batches, critic_optimizer.gradients):
        for i in range(2):
            expected = squared_error_gradients(batch, CRITICS_2D[2 * i], CRITICS_2D[2 * i + 1], targets)
            torch.testing.assert_close(tuple(gradients[2 * i : 2 * i + 2]), expected, atol=1e-5, rtol=0)
    # every second update, the actor climbs the first critic: −K_1[s] / 2 in MU[s] for each transition from s
    batches_of_actor = [batch for update, batch in zip(UPDATES[1], buffer.batches) if update % 2 == 0]
    assert len(actor_optimizer.gradients) == len(batches_of_actor)
    for (obs, *_), (gradient,) in zip(batches_of_actor, actor_optimizer.gradients):
        expected = torch.zeros(3, 2)
        for state in obs.argmax(dim=1).tolist():
            expected[state] -= torch.tensor(CRITICS_2D[1][state]) / 2
        torch.testing.assert_close(gradient, expected, atol=1e-6, rtol=0)
