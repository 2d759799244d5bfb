"""ppo.py's learning step, by hand: on the chain (tests/probes.py), with tables for the policy and the
values, the gradient of each update is that of the clipped surrogate, the clipped value loss and the
entropy bonus, worked out here for a policy and values that have moved away from those that collected
the rollout; the same for a Gaussian policy on two action dimensions, learned in minibatches that each
normalise their own advantages, with the ratio's clip met on all four sides (Â > 0 and Â < 0, r above
1 + ε and below 1 − ε) and the value moved up past its target and down past its clip; the networks'
orthogonal initialisation and Adam's ε; and (-m slow) with its continuous settings, learning on
Pendulum-v1."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import probes
import pytest
import torch
import torch.nn as nn
import tyro
from conftest import ALGORITHMS_DIR, load_algorithm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import run  # noqa: E402  (the benchmarks' settings for Pendulum-v1)

ppo = load_algorithm("ppo")

# The policy and the values that collected the rollout (π_old, V_old) and those being learned (π_θ, V_θ),
# as after some updates. State 2, where episodes end, is never learned from.
LOGITS_OLD = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # uniform: π_old(a|s) = 1/2
LOGITS = [[0.8, -0.8], [0.1, -0.1], [0.0, 0.0]]
V_OLD = [1.0, 1.25, 7.0]
V = [1.5, 1.3, 7.0]
EPSILON, BETA, C_V = 0.2, 0.1, 0.5  # the clip, the entropy bonus's weight, the value loss's weight
# one env on the chain, in rollouts of three steps: state 0, state 1, then the step that only resets the
# env; one pass over each rollout in one minibatch. γ = λ = 0.5, and a learning rate so small that the
# tables keep their values.
PROBE = dict(env_id="Chain-v0", seed=1, num_envs=1, num_steps=3, total_timesteps=30, update_epochs=1)
PROBE |= dict(num_minibatches=1, gamma=0.5, gae_lambda=0.5, clip_coef=EPSILON, ent_coef=BETA, vf_coef=C_V)
PROBE |= dict(learning_rate=1e-9, max_grad_norm=1e6, eval_episodes=1)

# GAE from V_old: from state 1, r = 2 and the episode terminates, Â = 2 − 1.25 = 0.75; from state 0,
# r = 1, Â = 1 + 0.5 · 1.25 − 1 + γλ · 0.75 = 0.8125. The critic's targets R = Â + V_old: 1.8125, 2.
# Normalised within the minibatch of these two, Â is +1/√2 in state 0 and −1/√2 in state 1.
ADVANTAGES = {0: 2**-0.5, 1: -(2**-0.5)}
RETURNS = {0: 1.8125, 1: 2.0}


def tables(monkeypatch):
    """Replace ppo.ActorCritic with tables: without a gradient (acting, π_old and V_old) it reads
    LOGITS_OLD and V_OLD, with one (the passes that learn) LOGITS and V, its parameters. Returns the
    networks made; network.acted lists each state acted in and the action drawn."""
    made = []

    class TableActorCritic(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size, normalize_observation=False):
            super().__init__()
            self.logits, self.values = nn.Parameter(torch.tensor(LOGITS)), nn.Parameter(torch.tensor(V))
            self.acted = []
            made.append(self)

        def forward(self, x):
            learning = torch.is_grad_enabled()
            logits = x @ (self.logits if learning else torch.tensor(LOGITS_OLD))
            values = x @ (self.values if learning else torch.tensor(V_OLD))
            pi = torch.distributions.Categorical(logits=logits)
            return probes.recording_samples(pi, x, self.acted), values

        def greedy(self, x):
            return (x @ self.logits).argmax(dim=1)

    monkeypatch.setattr(ppo, "ActorCritic", TableActorCritic)
    return made


def expected_gradients(rollout, epsilon=EPSILON, clip_vloss=True) -> list:
    """The gradient of L^CLIP + c_v L^V − β mean H over the rollout's transitions [(state, action)], with
    the clip ε and the value loss clipped or not."""
    n = len(rollout)
    logits, values = torch.zeros(3, 2), torch.zeros(3)
    for state, action in rollout:
        advantage = ADVANTAGES[state]
        ratio = torch.tensor(LOGITS[state]).softmax(dim=0)[action] / 0.5
        # −min(r Â, clip(r) Â): the clipped term wins, and carries no gradient, once r has left
        # [1 − ε, 1 + ε] on the side Â favours; otherwise ∂(r Â)/∂logits = Â r (onehot(a) − π_θ)
        clipped = (advantage > 0 and ratio > 1 + epsilon) or (advantage < 0 and ratio < 1 - epsilon)
        if not clipped:
            logits[state] -= advantage * ratio * probes.log_prob_gradient(LOGITS[state], action) / n
        logits[state] -= BETA * probes.entropy_gradient(LOGITS[state]) / n
        # ½ max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²): in both states V has moved toward R, by 0.5
        # in state 0 and 0.05 in state 1; where by more than ε the clipped term is the larger and constant,
        # otherwise both are (V − R)². Not clipped, ½ (V − R)² in both.
        if abs(V[state] - V_OLD[state]) <= epsilon or not clip_vloss:
            values[state] += C_V * (V[state] - RETURNS[state]) / n
    return [logits, values]


# With ε = 0.2 state 1's ratios (1.1 and 0.9) and its value's move (0.05) are within the clip; with
# ε = 0.04 the ratio 0.9 of Â < 0 and the value's move are clipped too; and the value loss left unclipped
@pytest.mark.parametrize(("epsilon", "clip_vloss"), [(EPSILON, True), (0.04, True), (EPSILON, False)])
def test_each_update_learns_the_clipped_surrogate_and_the_clipped_value_loss(
    monkeypatch, epsilon, clip_vloss
):
    agents = tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    ppo.train(ppo.Args(**(PROBE | dict(clip_coef=epsilon, clip_vloss=clip_vloss))))
    (agent,), (optimizer,) = agents, optimizers
    # the steps acted in: per rollout state 0, state 1, then the reset step, which is no transition
    acted = [(int(states[0]), int(actions[0])) for states, actions in agent.acted]
    rollouts = [acted[t : t + 2] for t in range(0, len(acted), 3)]
    assert [state for rollout in rollouts for state, _ in rollout] == [0, 1] * 10
    assert len(optimizer.gradients) == 10
    # both actions drawn in state 0: the one whose ratio (1.66) is clipped, the other's (0.34) not
    assert {action for rollout in rollouts for state, action in rollout if state == 0} == {0, 1}
    for rollout, gradients in zip(rollouts, optimizer.gradients, strict=True):
        torch.testing.assert_close(gradients, expected_gradients(rollout, epsilon, clip_vloss))


def test_the_passes_stop_once_the_approximate_kl_passes_the_target(monkeypatch):
    # four passes of two minibatches a rollout, unless the approximate KL of the pass's last minibatch,
    # mean[(r − 1) − log r], passes --target-kl. With the tables, π_θ is LOGITS whatever the updates: a
    # transition's term is 0.16 or 0.43 in state 0 (r = 1.66 or 0.34), 0.005 in state 1
    settings = PROBE | dict(num_steps=12, total_timesteps=24, update_epochs=4, num_minibatches=2)
    tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    ppo.train(ppo.Args(**settings))
    assert len(optimizers[0].gradients) == 2 * 4 * 2
    monkeypatch.undo()
    tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    ppo.train(ppo.Args(**(settings | dict(target_kl=0.01))))
    assert len(optimizers[0].gradients) == 2 * 1 * 2  # one pass a rollout, then the KL is past 0.01


def test_the_gradient_is_clipped_to_max_grad_norm(monkeypatch):
    # the same rollouts learned from twice: unclipped (the probe's max_grad_norm, 1e6), then clipped to
    # 0.01; clip_grad_norm_ scales the whole gradient by max_grad_norm / (its norm + 1e-6)
    norms = []
    for max_grad_norm in (1e6, 0.01):
        with monkeypatch.context() as patches:
            tables(patches)
            optimizers = probes.recording_adam(patches)
            ppo.train(ppo.Args(**(PROBE | dict(max_grad_norm=max_grad_norm))))
        norms.append([torch.cat([g.flatten() for g in step]).norm() for step in optimizers[0].gradients])
    unclipped, clipped = norms
    assert len(clipped) == len(unclipped) >= 10 and min(unclipped) > 0.01
    torch.testing.assert_close(clipped, [norm * 0.01 / (norm + 1e-6) for norm in unclipped])


@pytest.mark.parametrize("num_minibatches", [1, 3, 20])
def test_each_pass_learns_from_every_transition_once(monkeypatch, num_minibatches):
    # a rollout of 4 envs × 6 steps on the chain: 16 transitions (the reset steps are none), in 1 or 3
    # minibatches a pass, each transition in exactly one of them; asked for 20, 16 of one transition each
    seen, permutation = [], np.random.permutation

    def recording_permutation(n):
        order = permutation(n)
        seen.append(np.sort(order))
        return order

    monkeypatch.setattr(np.random, "permutation", recording_permutation)
    tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    settings = PROBE | dict(num_envs=4, num_steps=6, total_timesteps=24, update_epochs=2)
    ppo.train(ppo.Args(**(settings | dict(num_minibatches=num_minibatches))))
    assert len(optimizers[0].gradients) == 2 * min(num_minibatches, 16)
    assert all(np.array_equal(order, np.arange(16)) for order in seen) and len(seen) == 2


def test_a_gaussian_policy_s_rollout_keeps_the_actions_drawn_not_the_clipped_ones(monkeypatch):
    # actions in [−1, 1], the Gaussian's means ±0.5, σ = 1: a third of the draws fall outside the bounds.
    # The env gets them clipped; π_old's log-probability and the ratio are of the actions as drawn
    agents = probes.actor_critic_tables(ppo, monkeypatch, [[0.5], [-0.5], [0.0]], [0.0, 0.0, 0.0])
    stored = []

    class RecordingRollout(ppo.Rollout):
        def add(self, t, obs, actions, *args, **kwargs):
            stored.append(actions.copy())
            super().add(t, obs, actions, *args, **kwargs)

    monkeypatch.setattr(ppo, "Rollout", RecordingRollout)
    ppo.train(ppo.Args(**(PROBE | dict(env_id="ContinuousChain-v0"))))
    (agent,) = agents
    drawn = [actions.numpy() for _, actions in agent.acted]
    assert len(stored) == len(drawn) == 30
    np.testing.assert_array_equal(np.concatenate(stored), np.concatenate(drawn))
    assert np.abs(np.concatenate(drawn)).max() > 1


# ---- a Gaussian policy on two action dimensions, learned in minibatches ----

# π_old and π_θ on PlaneChain-v0 (tests/probes.py: actions in [0, 4] × [−1, 1]): per state the Gaussian's
# means, and log σ per dimension. π_θ has moved its means in both dimensions and widened one σ, narrowed the
# other, so that the ratios of the actions drawn from π_old fall on both sides of 1 ± ε.
MEANS_OLD, LOG_STD_OLD = [[2.0, 0.0], [1.0, 0.5], [0.0, 0.0]], [0.0, 0.0]
MEANS, LOG_STD = [[2.5, -0.3], [0.6, 0.8], [0.0, 0.0]], [0.2, -0.3]
# γ = 0.5 and λ = 0.8 here, so that γ and λ swapped, or either squared, show. V_old(1) = 3 is above the
# return from state 1: Â = 2 − 3 = −1 there, and from state 0 Â = 1 + γ · 3 − 1 + γλ · (−1) = 1.1; the
# critic's targets R = Â + V_old are 2.1 and 2.
PLANE_LAMBDA, PLANE_V_OLD, PLANE_V = 0.8, [1.0, 3.0, 7.0], [4.0, 2.2, 7.0]
# ½ max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²), over the minibatch: in state 0 V has moved up by 3,
# past R: (V − R)² = 1.9² is the larger (against 0.9²), and its gradient is c_v (V − R) = 0.5 · 1.9 a
# transition; in state 1 V has moved down by 0.8, and (V_old − ε − R)² = 0.8² is the larger (against
# 0.2²): constant, no gradient
PLANE_VALUE_GRADIENTS = {0: C_V * 1.9, 1: 0.0}


def gaussian_tables(monkeypatch):
    """Replace ppo.ActorCritic with tables of a Gaussian policy: without a gradient (acting, π_old and
    V_old) MEANS_OLD, LOG_STD_OLD and PLANE_V_OLD, with one MEANS, LOG_STD and PLANE_V, its parameters in
    that order (means, values, log σ). Returns the networks made; network.acted lists each state acted in
    and the action drawn."""
    made = []

    class GaussianTables(nn.Module):
        def __init__(self, obs_dim, action_space, hidden_size, normalize_observation=False):
            super().__init__()
            self.means, self.values = nn.Parameter(torch.tensor(MEANS)), nn.Parameter(torch.tensor(PLANE_V))
            self.log_std = nn.Parameter(torch.tensor(LOG_STD))
            self.acted = []
            made.append(self)

        def forward(self, x):
            learning = torch.is_grad_enabled()
            means = x @ (self.means if learning else torch.tensor(MEANS_OLD))
            log_std = self.log_std if learning else torch.tensor(LOG_STD_OLD)
            values = x @ (self.values if learning else torch.tensor(PLANE_V_OLD))
            pi = torch.distributions.Independent(torch.distributions.Normal(means, log_std.exp()), 1)
            return probes.recording_samples(pi, x, self.acted), values

        def greedy(self, x):
            return x @ self.means

    monkeypatch.setattr(ppo, "ActorCritic", GaussianTables)
    return made


def ratio_of(state: int, action) -> float:
    """π_θ(a|s) / π_old(a|s), from the Gaussians' log-probabilities by hand."""
    log_ratio = probes.gaussian_log_prob(MEANS[state], LOG_STD, action) - probes.gaussian_log_prob(
        MEANS_OLD[state], LOG_STD_OLD, action
    )
    return float(log_ratio.exp())


def expected_gaussian_gradients(minibatch) -> list:
    """The gradient of L^CLIP + c_v L^V − β mean H over a minibatch [(state, action, Â normalised within
    it)], with respect to the tables (means, values, log σ)."""
    n = len(minibatch)
    means, values, log_std = torch.zeros(3, 2), torch.zeros(3), torch.zeros(2)
    for state, action, advantage in minibatch:
        ratio = ratio_of(state, action)
        # the clipped term wins, and carries no gradient, once r has left [1 − ε, 1 + ε] on the side Â
        # favours; otherwise ∂(r Â) = Â r ∂ log π_θ(a|s), log π_θ summed over the dimensions
        clipped = (advantage > 0 and ratio > 1 + EPSILON) or (advantage < 0 and ratio < 1 - EPSILON)
        if not clipped:
            mean_gradient, log_std_gradient = probes.gaussian_log_prob_gradients(
                MEANS[state], LOG_STD, action
            )
            means[state] -= advantage * ratio * mean_gradient / n
            log_std -= advantage * ratio * log_std_gradient / n
        log_std -= BETA / n  # H = Σ_d log σ_d + log √(2πe): ∂H / ∂ log σ_d = 1
        values[state] += PLANE_VALUE_GRADIENTS[state] / n
    return [means, values, log_std]


def test_a_gaussian_policy_on_two_action_dimensions_learns_the_clipped_surrogate_minibatch_by_minibatch(
    monkeypatch,
):
    # rollouts of six steps: states 0, 1, the reset step, 0, 1, the reset step: four transitions, in two
    # minibatches of two, shuffled. Â is normalised within each minibatch: ±1/√2 in one that holds both
    # states (state 0's the larger), 0 in one that holds one state twice (no spread, the mean taken off).
    # Normalised over the whole rollout's four, it would be ±√3/2 in every one.
    orders, permutation = [], np.random.permutation

    def recording_permutation(n):
        orders.append(permutation(n))
        return orders[-1]

    monkeypatch.setattr(np.random, "permutation", recording_permutation)
    agents = gaussian_tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    settings = dict(env_id="PlaneChain-v0", num_steps=6, total_timesteps=120, num_minibatches=2)
    settings |= dict(gae_lambda=PLANE_LAMBDA)
    ppo.train(ppo.Args(**(PROBE | settings)))
    (agent,), (optimizer,) = agents, optimizers

    acted = [(int(states[0]), actions[0]) for states, actions in agent.acted]
    rollouts = [[acted[t + k] for k in (0, 1, 3, 4)] for t in range(0, len(acted), 6)]
    assert [state for rollout in rollouts for state, _ in rollout] == [0, 1] * 40
    assert len(orders) == 20 and len(optimizer.gradients) == 40
    minibatches = []
    for rollout, order in zip(rollouts, orders, strict=True):
        for mb in np.array_split(order, 2):
            (s, a), (s2, a2) = (rollout[i] for i in mb)
            normalised = {0: 2**-0.5, 1: -(2**-0.5)} if s != s2 else {s: 0.0}
            minibatches.append([(s, a, normalised[s]), (s2, a2, normalised[s2])])
    # both kinds of minibatch, and every side of the clip: Â > 0 and Â < 0, each with r above 1 + ε and below 1 − ε
    assert {len({state for state, _, _ in mb}) for mb in minibatches} == {1, 2}
    sides = {
        (advantage > 0, ratio_of(state, action) > 1)
        for mb in minibatches
        for state, action, advantage in mb
        if advantage != 0 and abs(ratio_of(state, action) - 1) > EPSILON
    }
    assert sides == {(True, True), (True, False), (False, True), (False, False)}
    for minibatch, gradients in zip(minibatches, optimizer.gradients, strict=True):
        torch.testing.assert_close(gradients, expected_gaussian_gradients(minibatch))


def test_the_networks_are_initialised_orthogonally_with_their_gains_and_zero_biases():
    torch.manual_seed(0)
    agent = ppo.ActorCritic(obs_dim=3, action_space=probes.PlaneChain().action_space, hidden_size=8)
    # an orthogonal W of gain g has orthogonal rows of norm g (W Wᵀ = g² I), or, where it has fewer columns
    # than rows, orthogonal columns (Wᵀ W = g² I): √2 in the hidden layers, 0.01 in the policy's last (its
    # means start near 0), 1 in the value's; every bias 0
    for network, last_gain in ((agent.actor, 0.01), (agent.critic, 1.0)):
        for layer, gain in zip(
            (network[0], network[2], network[4]), (2**0.5, 2**0.5, last_gain), strict=True
        ):
            w = layer.weight.detach()
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            torch.testing.assert_close(gram, gain**2 * torch.eye(min(w.shape)))
            assert not layer.bias.any()
    assert agent.actor[4].weight.shape == (2, 8) and agent.critic[4].weight.shape == (1, 8)
    torch.testing.assert_close(agent.log_std.detach(), torch.zeros(2))  # σ = 1 at first


def test_adam_s_epsilon_is_the_reference_implementations_1e_5(monkeypatch):
    tables(monkeypatch)
    optimizers = probes.recording_adam(monkeypatch)
    ppo.train(ppo.Args(**(PROBE | dict(total_timesteps=3))))
    (optimizer,) = optimizers
    assert optimizer.defaults["eps"] == 1e-5 and len(optimizer.gradients) == 1


# -m slow (~40 s): benchmarks/run.py measures these settings on 20 seeds (pendulum.md); the default
# suite holds the file to CartPole, and its Gaussian policy to the tests above
@pytest.mark.slow
def test_a_continuous_run_with_its_settings_learns_to_swing_the_pendulum_up():
    # the settings of benchmarks/run.py for Pendulum-v1, a fifth of their budget (the learning rate
    # annealed over it): greedy −185 on seed 1, where the untrained policy scores about −1,200
    settings = ["--env-id", "Pendulum-v1", *run.HYPERPARAMETERS["ppo", "Pendulum-v1"]]
    args = dataclasses.replace(tyro.cli(ppo.Args, args=settings), seed=1, total_timesteps=100_000)
    summary = ppo.train(args)
    assert np.mean(summary["eval_returns"]) > -400, summary["eval_returns"]


def test_a_checkpoint_evaluated_in_a_fresh_process_plays_as_the_run_did():
    # the popular single-file PPO loses its observations' statistics with the saved model; here they are
    # buffers of the network: the README's command, in a process of its own, plays the run's final
    # evaluation again, episode by episode
    settings = dict(env_id="Pendulum-v1", seed=1, num_envs=4, num_steps=256, total_timesteps=4_096)
    settings |= dict(normalize_observation=True, normalize_reward=True, eval_episodes=3, save_model=True)
    summary = ppo.train(ppo.Args(**settings))
    evaluated = subprocess.run(
        [
            sys.executable,
            str(ALGORITHMS_DIR / "ppo.py"),
            "--evaluate",
            summary["model_path"],
            "--eval-episodes",
            "3",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    played = evaluated.stdout.strip().splitlines()[-1].split("episode by episode: ")[1]
    assert played == ", ".join(f"{episode_return:.1f}" for episode_return in summary["eval_returns"])
