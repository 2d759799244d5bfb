"""sac.py's learning step, by hand, on the continuous chain of tests/probes.py (states 0 → 1 → 2, whatever
the action; leaving s earns s + 1; the episode terminates in state 2). The actor is replaced by a table
whose draw in state s is the action A[s] with log-probability LOG_PI[s], and each of the two critics by a
table linear in the action, Q_i(s, a) = V_i[s] + K_i[s] · a, as in tests/test_td3.py. With one transition
a batch, every gradient is worked out here: the critics' toward the soft target, the actor's of
α log π(ã|s) − min_i Q_i(s, ã) in A[s] and LOG_PI[s], and α's of −α (log π + H̄) in log α. The actor's
own draw (the squashed Gaussian and its log-probability) is called directly, against the change of
variables worked out in float64, on two action dimensions of different bounds, with log σ beyond either
of its bounds. The α of the target and of the actor's loss is the temperature's, as it is learned; and
the learning step runs on two action dimensions too (PlaneChain-v0, [0, 4] × [−1, 1], H̄ = −2), from
batches of two."""

import math

import gymnasium as gym
import pytest
import torch
import torch.nn as nn
from conftest import load_algorithm
from probes import (
    CHAIN_TRANSITIONS,
    one_hot,
    recorded_chain,
    recording_adam,
    recording_buffer,
    squared_error_gradients,
    stored_transitions,
    twin_linear_critic,
)
from test_td3 import CRITICS_2D, TARGET_CRITICS_2D  # noqa: E402  (the same twin critics on two dimensions)

sac = load_algorithm("sac")

# The actor's draws, A[s] with log π(A[s]|s) = LOG_PI[s], and its greedy actions, MEAN[s].
A, LOG_PI, MEAN = [0.3, 0.8, -0.4], [-0.5, 0.7, 2.0], [0.1, -0.6, 0.9]
# The online critics (V_1, K_1, V_2, K_2) and the target critics. At the actor's draws the smaller
# online critic is the second in state 0 (Q_1(0, 0.3) = 1.62, Q_2(0, 0.3) = 1.2 − 1.7 · 0.3 = 0.69) and
# the first in state 1 (Q_1(1, 0.8) = 1.6 − 0.8 · 0.8 = 0.96, Q_2(1, 0.8) = 1.9 + 0.6 · 0.8 = 2.38).
CRITICS = ([1.5, 1.6, 0.0], [0.4, -0.8, 0.0], [1.2, 1.9, 0.0], [-1.7, 0.6, 0.0])
# In state 1 the target critics cross at a = 0.5: Q_1⁻(1, a) = 1.8 + 0.5 a is the smaller below it,
# Q_2⁻(1, a) = 2.0 + 0.1 a above it. State 2, where episodes end, holds values that would show in a
# target that bootstraps from a termination.
TARGET_CRITICS = ([0.9, 1.8, 7.0], [0.6, 0.5, 3.0], [0.4, 2.0, 5.0], [0.2, 0.1, 4.0])
H_TARGET = -1.0  # H̄ = −|A|, one action dimension

SAC_PROBE = dict(
    batch_size=1,
    buffer_size=100,
    learning_starts=2,
    total_timesteps=40,
    learning_rate=1e-9,
    critic_learning_rate=1e-9,
    tau=1e-9,
    gamma=0.5,
    alpha=0.2,
    eval_episodes=1,
)


def tables(monkeypatch, draws=A, means=MEAN, critics=CRITICS, target_critics=TARGET_CRITICS):
    """Replace sac.Actor and sac.Critic with tables: the critic that train() makes first is the online
    one, the second the target. `draws` is the actor's A, `means` its MEAN: a number per state with one
    action dimension, a vector with more. Returns the actors made and the critics made; actor.sampled
    says of each draw whether it was taken with gradients."""
    actors, made = [], []

    def per_state(table):
        table = torch.tensor(table)
        return table.unsqueeze(1) if table.dim() == 1 else table  # (state, action)

    class TableActor(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size):
            super().__init__()
            self.draws = nn.Parameter(per_state(draws))
            self.log_pi = nn.Parameter(torch.tensor(LOG_PI))
            self.register_buffer("means", per_state(means))
            self.sampled = []
            actors.append(self)

        def forward(self, x):
            return x @ self.means

        def sample(self, x):
            self.sampled.append(torch.is_grad_enabled())
            return x @ self.draws, x @ self.log_pi

    monkeypatch.setattr(sac, "Actor", TableActor)
    monkeypatch.setattr(sac, "Critic", twin_linear_critic([critics, target_critics], made))
    return actors, made


def run(monkeypatch, env_id="ContinuousChain-v0", draws=A, **settings):
    """Train on the chain with the tables; returns the optimizers (actor, critics, α) and the buffer."""
    tables(monkeypatch, draws)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(sac, monkeypatch)
    sac.train(sac.Args(env_id=env_id, **(SAC_PROBE | settings)))
    (buffer,) = buffers
    assert len(buffer.batches) == len(optimizers[1].gradients)  # one batch an update
    if env_id == "ContinuousChain-v0":  # an update at each of steps 4 to 40 (tests/test_td3.py, UPDATES)
        assert len(buffer.batches) == 37
    return optimizers, buffer


class TemperatureAtHalf(sac.Temperature):
    """A temperature that holds α = 0.5 from the start, whatever --alpha says, as a learned α comes to
    hold another value than the one it started from."""

    def __init__(self, alpha):
        super().__init__(0.5)


# The soft target from state 0, γ = 0.5: the current policy draws a' = A[1] in state 1, and
# y = 1 + γ (min_i Q_i⁻(1, a') − α LOG_PI[1]). From state 1 the episode terminates: y = 2.
SOFT_TARGETS = [
    # a' = 0.8: Q_1⁻ = 2.2, Q_2⁻ = 2.08; y = 1 + 0.5 (2.08 − 0.2 · 0.7)
    ("ContinuousChain-v0", A, {}, {0: 1.97, 1: 2.0}),
    # a' = 0.2: Q_1⁻ = 1.9 < Q_2⁻ = 2.02; y = 1 + 0.5 (1.9 − 0.14)
    ("ContinuousChain-v0", [0.3, 0.2, -0.4], {}, {0: 1.88, 1: 2.0}),
    # α fixed at 0.5: y = 1 + 0.5 (2.08 − 0.5 · 0.7)
    ("ContinuousChain-v0", A, dict(alpha=0.5, autotune=False), {0: 1.865, 1: 2.0}),
    # the time limit cuts every episode in state 1: truncated, it bootstraps
    ("ContinuousChainCut-v0", A, {}, {0: 1.97}),
]


@pytest.mark.parametrize(("env_id", "draws", "settings", "targets"), SOFT_TARGETS)
def test_both_critics_learn_the_soft_target(monkeypatch, env_id, draws, settings, targets):
    (_, critic_optimizer, _), buffer = run(monkeypatch, env_id, draws, **settings)
    learned_from = set()
    for (obs, actions, _, _, _), gradients in zip(buffer.batches, critic_optimizer.gradients):
        state, action = int(obs[0].argmax()), float(actions[0, 0])
        learned_from.add(state)
        for i in range(2):  # each critic's squared TD error: 2 (V_i[s] + K_i[s] a − y), times a in K_i[s]
            v, k = CRITICS[2 * i], CRITICS[2 * i + 1]
            derivative = 2 * (v[state] + k[state] * action - targets[state])
            torch.testing.assert_close(gradients[2 * i], derivative * one_hot(state), atol=1e-5, rtol=0)
            torch.testing.assert_close(
                gradients[2 * i + 1], derivative * action * one_hot(state), atol=1e-5, rtol=0
            )
    assert learned_from == set(targets)


def test_the_actor_trades_the_smaller_critic_for_entropy(monkeypatch):
    # the actor's loss at s, α LOG_PI[s] − min_i (V_i[s] + K_i[s] A[s]): its gradient in A[s] is −K_i[s]
    # of the smaller critic, −K_2[0] = 1.7 in state 0 and −K_1[1] = 0.8 in state 1; in LOG_PI[s], α
    (actor_optimizer, _, _), buffer = run(monkeypatch)
    assert len(actor_optimizer.gradients) == len(buffer.batches)  # every step, without TD3's delay
    for (obs, *_), (draw_gradient, log_pi_gradient) in zip(buffer.batches, actor_optimizer.gradients):
        state = int(obs[0].argmax())
        expected = {0: 1.7, 1: 0.8}[state]
        torch.testing.assert_close(draw_gradient[:, 0], expected * one_hot(state), atol=1e-6, rtol=0)
        torch.testing.assert_close(log_pi_gradient, 0.2 * one_hot(state), atol=1e-6, rtol=0)


def test_alpha_follows_the_entropy_toward_its_target(monkeypatch):
    # L(α) = −α (log π + H̄): in log α the gradient −α (LOG_PI[s] + H̄), at α = 0.2: in state 0
    # −0.2 (−0.5 − 1) = 0.3, in state 1 −0.2 (0.7 − 1) = 0.06; both positive, so α goes down, as it
    # should where the entropy, −log π (0.5, −0.7), is above H̄ = −1
    (_, _, alpha_optimizer), buffer = run(monkeypatch)
    assert len(alpha_optimizer.gradients) == len(buffer.batches)
    for (obs, *_), (gradient,) in zip(buffer.batches, alpha_optimizer.gradients):
        state = int(obs[0].argmax())
        assert float(gradient) == pytest.approx(-0.2 * (LOG_PI[state] + H_TARGET), abs=1e-6)


def test_the_alpha_the_temperature_holds_is_the_alpha_of_the_target_and_of_the_actors_loss(monkeypatch):
    # a temperature at α = 0.5 where --alpha says 0.2: the soft target from state 0 is
    # y = 1 + 0.5 (2.08 − 0.5 · 0.7) = 1.865 (from state 1, 2); the actor's gradient in LOG_PI[s] is α = 0.5;
    # α's own in log α, −α (LOG_PI[s] + H̄), is −0.5 (−0.5 − 1) = 0.75 in state 0, −0.5 (0.7 − 1) = 0.15 in state 1
    monkeypatch.setattr(sac, "Temperature", TemperatureAtHalf)
    (actor_optimizer, critic_optimizer, alpha_optimizer), buffer = run(monkeypatch)
    targets = {0: 1.865, 1: 2.0}
    for (obs, actions, *_), critic_gradients, (_, log_pi_gradient), (alpha_gradient,) in zip(
        buffer.batches, critic_optimizer.gradients, actor_optimizer.gradients, alpha_optimizer.gradients
    ):
        state, action = int(obs[0].argmax()), float(actions[0, 0])
        for i in range(2):  # each critic's 2 (V_i[s] + K_i[s] a − y) in V_i[s]
            derivative = 2 * (CRITICS[2 * i][state] + CRITICS[2 * i + 1][state] * action - targets[state])
            torch.testing.assert_close(
                critic_gradients[2 * i], derivative * one_hot(state), atol=1e-5, rtol=0
            )
        torch.testing.assert_close(log_pi_gradient, 0.5 * one_hot(state), atol=1e-6, rtol=0)
        assert float(alpha_gradient) == pytest.approx(-0.5 * (LOG_PI[state] + H_TARGET), abs=1e-6)


def test_alpha_learns_from_alpha_at_the_learning_rate_and_the_actor_trades_with_it_as_it_goes(monkeypatch):
    # at a learning rate of 0.1 (the critics' still 1e-9), α's gradient in log α, −α (log π + H̄), is positive
    # at every update: log π + H̄ < 0 in both states, and log π only falls as the actor learns. So α falls at
    # each update, and Adam's first step is the learning rate times the gradient's sign: log α goes from
    # log 0.2 to log 0.2 − 0.1. The α of the actor's loss, read from its gradient in LOG_PI[s], follows it:
    # 0.2 at the first update, 0.2 e^−0.1 = 0.18097 at the second, lower at each one after
    (actor_optimizer, _, _), _ = run(monkeypatch, learning_rate=0.1)
    alphas = [float(log_pi_gradient.sum()) for _, log_pi_gradient in actor_optimizer.gradients]
    assert alphas[:2] == pytest.approx([0.2, 0.2 * math.exp(-0.1)], abs=1e-6)
    assert all(later < earlier for earlier, later in zip(alphas, alphas[1:]))


def test_a_fixed_alpha_is_not_learned(monkeypatch):
    (_, _, alpha_optimizer), _ = run(monkeypatch, alpha=0.5, autotune=False)
    assert alpha_optimizer.gradients == []


def test_the_target_critics_follow_by_polyak_averaging_every_update(monkeypatch):
    # θ_i⁻ = θ_i + (1 − τ)^k (θ_i⁻_0 − θ_i) after k updates, the online tables still at their values
    _, critics = tables(monkeypatch)
    optimizers = recording_adam(monkeypatch)
    sac.train(sac.Args(env_id="ContinuousChain-v0", **(SAC_PROBE | dict(tau=0.1))))
    (_, target_critic), k = critics, len(optimizers[1].gradients)
    assert k > 20
    for table, online, target in zip(target_critic.tables, CRITICS, TARGET_CRITICS):
        online, target = torch.tensor(online), torch.tensor(target)
        torch.testing.assert_close(table.detach(), online + 0.9**k * (target - online))


def test_the_buffer_holds_the_transitions_with_the_actors_draws(monkeypatch):
    actors = tables(monkeypatch)[0]
    buffers = recording_buffer(sac, monkeypatch)
    sac.train(sac.Args(env_id="ContinuousChain-v0", **SAC_PROBE))
    (actor,), (buffer,) = actors, buffers
    # the actor draws without gradients to act at each step from step 3 on, once learning starts (38 of
    # them), and for the target of each of the 37 updates; with gradients for the actor's loss of each
    assert actor.sampled.count(False) == 38 + 37 and actor.sampled.count(True) == 37
    stored = stored_transitions(buffer)
    assert stored == CHAIN_TRANSITIONS
    # uniform at random before learning starts, then the policy's draw, no noise added
    for i in range(2, buffer.size):
        assert buffer.actions[i, 0] == pytest.approx(A[int(buffer.obs[i].argmax())]), i


def test_the_evaluation_plays_the_mean_action(monkeypatch):
    tables(monkeypatch)
    actor, critic = sac.Actor(3, None, 0), sac.Critic(3, 1, 0)  # the online tables
    env, envs = recorded_chain()
    returns, predicted, discounted = sac.evaluate(actor, critic, envs, 2, 0, torch.device("cpu"), 0.5)
    assert env.actions == pytest.approx([0.1, -0.6] * 2)  # MEAN[0], MEAN[1], not the draws
    assert returns == [3.0, 3.0] and discounted == [2.0, 2.0]
    assert predicted == pytest.approx([1.54, 1.54])  # Q_1(0, MEAN[0]) = 1.5 + 0.4 · 0.1


def test_the_squashed_gaussian_and_its_log_probability(monkeypatch):
    # Two action dimensions in [0, 4] × [−1, 1] (PlaneChain-v0): center (2, 0), scale (2, 1). With the hidden
    # layers' output multiplied by zero weights, the heads' biases are the mean μ and log σ; every draw ξ is
    # hand-set. In float64: u = μ + σ ξ, a_j = center_j + scale_j tanh(u_j), and the density of tanh(u),
    # whatever the scale, log π = Σ_j [−ξ_j²/2 − log σ_j − log(2π)/2 − log(1 − tanh²(u_j))], with
    # log(1 − tanh²(u)) = −2 log cosh(u).
    actor = sac.Actor(3, gym.make("PlaneChain-v0").action_space, hidden_size=8)
    center, scale = (2.0, 0.0), (2.0, 1.0)
    # dimension 0 in the middle of tanh; dimension 1 far out (u = 10.5), where 1 − tanh² rounds to 0 in
    # float32; log σ = 5 beyond the bound 2, where σ is e²; and log σ = −25 beyond the bound −20, where σ is e^−20
    cases = [
        ((0.5, 10.0), (math.log(0.5), 0.0), (1.5, 0.5)),
        ((-0.3, 0.0), (0.2, 5.0), (-1.0, -1.0)),
        ((0.2, -0.1), (-25.0, 1.0), (0.5, 2.0)),
    ]
    for mean, log_std, xi in cases:
        with torch.no_grad():
            for head, bias in ((actor.mean, mean), (actor.log_std, log_std)):
                head.weight.zero_()
                head.bias.copy_(torch.tensor(bias))
        monkeypatch.setattr(torch, "randn_like", lambda tensor, xi=xi: torch.tensor(xi).expand_as(tensor))
        actions, log_prob = actor.sample(torch.ones(4, 3))
        expected_actions, expected_log_prob = [], 0.0
        for m, log_s, x, c, k in zip(mean, log_std, xi, center, scale):
            log_s = min(max(log_s, -20.0), 2.0)
            u = m + math.exp(log_s) * x
            expected_actions.append(c + k * math.tanh(u))
            expected_log_prob += -(x**2) / 2 - log_s - math.log(2 * math.pi) / 2 + 2 * math.log(math.cosh(u))
        torch.testing.assert_close(actions, torch.tensor([expected_actions] * 4), atol=1e-5, rtol=0)
        torch.testing.assert_close(log_prob, torch.full((4,), expected_log_prob), atol=1e-4, rtol=1e-5)
        # the greedy action: the mean, squashed and scaled
        greedy = [c + k * math.tanh(m) for m, c, k in zip(mean, center, scale)]
        torch.testing.assert_close(actor(torch.ones(4, 3)), torch.tensor([greedy] * 4), atol=1e-6, rtol=0)


def test_the_draw_is_reparameterised_so_that_the_gradient_flows_through_it(monkeypatch):
    # a = 2 + 2 tanh(u), u = μ + σ ξ, for actions in [0, 4], with μ = 0.5, σ = 0.5, ξ = 1.5 (u = 1.25); in
    # float64: ∂a/∂μ = 2 (1 − tanh² u), ∂a/∂log σ = 2 (1 − tanh² u) σ ξ; and with
    # log π = −ξ²/2 − log σ − log(2π)/2 + 2 log cosh u at ξ fixed: ∂log π/∂μ = 2 tanh u,
    # ∂log π/∂log σ = −1 + 2 tanh(u) σ ξ
    actor = sac.Actor(3, gym.spaces.Box(0.0, 4.0, (1,)), hidden_size=8)
    with torch.no_grad():
        for head, bias in ((actor.mean, 0.5), (actor.log_std, math.log(0.5))):
            head.weight.zero_()
            head.bias.fill_(bias)
    monkeypatch.setattr(torch, "randn_like", lambda tensor: torch.full_like(tensor, 1.5))
    actions, log_prob = actor.sample(torch.ones(1, 3))
    tanh_u, sigma_xi = math.tanh(1.25), 0.75
    heads = (actor.mean.bias, actor.log_std.bias)
    action_gradients = torch.autograd.grad(actions.sum(), heads, retain_graph=True)
    log_prob_gradients = torch.autograd.grad(log_prob.sum(), heads)
    sech2 = 1 - tanh_u**2
    assert [float(g) for g in action_gradients] == pytest.approx([2 * sech2, 2 * sech2 * sigma_xi], abs=1e-5)
    assert [float(g) for g in log_prob_gradients] == pytest.approx(
        [2 * tanh_u, -1 + 2 * tanh_u * sigma_xi], abs=1e-5
    )


# ---- two action dimensions: PlaneChain-v0, actions in [0, 4] × [−1, 1] ----
A_2D, MEAN_2D = [[3.0, -0.5], [1.0, 0.8], [2.0, 0.0]], [[2.0, 0.1], [1.5, -0.6], [0.0, 0.0]]
# The critics and target critics are tests/test_td3.py's, CRITICS_2D and TARGET_CRITICS_2D. At the actor's
# draws the smaller online critic is the second in state 0 (Q_1(0, (3, −0.5)) = 1.5 + 1.2 + 0.15 = 2.85,
# Q_2 = 1.2 − 0.9 − 0.1 = 0.2) and the first in state 1 (Q_1(1, (1, 0.8)) = 1.6 − 0.8 + 0.4 = 1.2,
# Q_2 = 1.9 + 0.6 − 0.32 = 2.18).
# From state 0, a' = A[1] = (1, 0.8): Q_1⁻ = 1.8 + 0.5 − 0.8 = 1.5 < Q_2⁻ = 2.1 + 0.1 + 0.32 = 2.52, and
# y = 1 + 0.5 (1.5 − 0.2 · 0.7) = 1.68; from state 1, y = 2.
TARGETS_2D = {0: 1.68, 1: 2.0}
# The actor's gradient in A[s], −K_i[s] of the smaller critic, and H̄ = −|A| = −2.
ACTOR_GRADIENTS_2D = {0: [0.3, -0.2], 1: [0.8, -0.5]}
H_TARGET_2D = -2.0


def test_on_two_action_dimensions_each_update_learns_the_mean_over_its_batch(monkeypatch):
    # batches of two transitions, each loss the mean over the batch: the critics' gradients toward the soft
    # targets (squared_error_gradients); the actor's −K_i[s] / 2 in A[s] and α / 2 = 0.1 in LOG_PI[s] for
    # each transition from s; α's, −α (LOG_PI[s] + H̄) / 2 for each: −0.2 (−0.5 − 2) / 2 = 0.25 from
    # state 0, −0.2 (0.7 − 2) / 2 = 0.13 from state 1
    tables(monkeypatch, A_2D, MEAN_2D, CRITICS_2D, TARGET_CRITICS_2D)
    optimizers, buffers = recording_adam(monkeypatch), recording_buffer(sac, monkeypatch)
    sac.train(sac.Args(env_id="PlaneChain-v0", **(SAC_PROBE | dict(batch_size=2))))
    (actor_optimizer, critic_optimizer, alpha_optimizer), (buffer,) = optimizers, buffers
    assert len(buffer.batches) == len(critic_optimizer.gradients) == len(alpha_optimizer.gradients) == 37
    assert all(len(obs) == 2 for obs, *_ in buffer.batches)
    for i in range(2, buffer.size):  # the actor's draws, a vector each
        assert buffer.actions[i] == pytest.approx(A_2D[int(buffer.obs[i].argmax())]), i
    for batch, critic_gradients, actor_gradients, (alpha_gradient,) in zip(
        buffer.batches, critic_optimizer.gradients, actor_optimizer.gradients, alpha_optimizer.gradients
    ):
        for i in range(2):
            expected = squared_error_gradients(batch, CRITICS_2D[2 * i], CRITICS_2D[2 * i + 1], TARGETS_2D)
            torch.testing.assert_close(
                tuple(critic_gradients[2 * i : 2 * i + 2]), expected, atol=1e-5, rtol=0
            )
        draws, log_pi, alpha = torch.zeros(3, 2), torch.zeros(3), 0.0
        for state in batch[0].argmax(dim=1).tolist():
            draws[state] += torch.tensor(ACTOR_GRADIENTS_2D[state]) / 2
            log_pi[state] += 0.2 / 2
            alpha += -0.2 * (LOG_PI[state] + H_TARGET_2D) / 2
        torch.testing.assert_close(tuple(actor_gradients), (draws, log_pi), atol=1e-6, rtol=0)
        assert float(alpha_gradient) == pytest.approx(alpha, abs=1e-6)
