"""actor_critic.py's learning step, by hand: on the chain (tests/probes.py), with a table of logits for
the actor and a table of values for the critic, each update's gradients are those of the TD errors of
the step's transitions, worked out here, and of the actions drawn."""

import probes
import pytest
import torch
from conftest import load_algorithm

actor_critic = load_algorithm("actor_critic")

# π(·|s) and V(s) on the chain; state 2, where episodes end, is never learned from, and its value would
# show in a target that bootstraps from a termination.
LOGITS = [[0.2, -0.3], [0.1, 0.4], [-0.5, 0.5]]
V = [1.0, 1.25, 7.0]
BETA = 0.1  # the weight of the entropy bonus
# γ = 0.5, and learning rates so small that the tables keep their values
PROBE = dict(seed=1, total_timesteps=40, gamma=0.5, ent_coef=BETA, eval_episodes=1)
PROBE |= dict(learning_rate=1e-9, critic_learning_rate=1e-9)

# The TD error δ = r + γ (1 − terminated) V(s') − V(s) of leaving each state, γ = 0.5:
# from state 0, r = 1 and the episode goes on in state 1, or is cut there by a time limit, and bootstraps
# from it either way: δ = 1 + 0.5 · 1.25 − 1 = 0.625; from state 1, r = 2 and the episode terminates:
# δ = 2 − 1.25 = 0.75.
DELTA = {0: 0.625, 1: 0.75}


def transitions(actor, episode_steps) -> list:
    """For each step of the run that has a transition to learn from, the (state, action) of each env
    whose step is one: env i plays episodes of episode_steps[i] steps, each followed by a step that only
    resets it, which is no transition."""
    steps = []
    for k, (states, actions) in enumerate(actor.acted):
        real = probes.real_steps(k, episode_steps)
        if any(real):  # when every env only resets, there is nothing to learn
            steps.append([(int(s), int(a)) for s, a, is_real in zip(states, actions, real) if is_real])
    return steps


@pytest.mark.parametrize(
    ("env_id", "num_envs", "episode_steps", "spread"),
    [
        # one env: a single transition a step, and δ is left as it is
        ("Chain-v0", 1, [2], None),
        # env 0 terminates in state 2 on the step the time limit ends it; env 1 is truncated in state 1:
        # every other step has two transitions, δ = 0.75 from state 1 and 0.625 from state 0, whose
        # (unbiased) std is 0.125 / √2, and δ̂ = δ / std is 6√2 and 5√2
        ("StaggeredChainCut-v0", 2, [1, 1], 0.125 / 2**0.5),
    ],
)
def test_each_update_learns_the_td_errors_of_the_step(monkeypatch, env_id, num_envs, episode_steps, spread):
    actors = probes.policy_table(actor_critic, monkeypatch, "Actor", LOGITS)
    probes.value_table(actor_critic, monkeypatch, "Critic", V)
    optimizers = probes.recording_adam(monkeypatch)
    actor_critic.train(actor_critic.Args(env_id=env_id, num_envs=num_envs, **PROBE))
    (actor,), (actor_optimizer, critic_optimizer) = actors, optimizers

    steps = transitions(actor, episode_steps)
    assert len(steps) == len(actor_optimizer.gradients) == len(critic_optimizer.gradients) >= 10
    for step, (actor_gradient,), (critic_gradient,) in zip(
        steps, actor_optimizer.gradients, critic_optimizer.gradients
    ):
        assert len(step) == num_envs
        n = len(step)
        critic_expected, actor_expected = torch.zeros(3), torch.zeros(3, 2)
        for state, action in step:
            # L(φ) = mean δ², the target a constant: ∂/∂V(s) = −2δ / n
            critic_expected[state] -= 2 * DELTA[state] / n
            # L(θ) = − mean δ̂ log π(a|s) − β mean H(π(·|s))
            delta_hat = DELTA[state] / spread if spread else DELTA[state]
            actor_expected[state] -= delta_hat * probes.log_prob_gradient(LOGITS[state], action) / n
            actor_expected[state] -= BETA * probes.entropy_gradient(LOGITS[state]) / n
        torch.testing.assert_close(critic_gradient, critic_expected)
        torch.testing.assert_close(actor_gradient, actor_expected)


def test_a_step_that_only_resets_an_env_is_no_transition(monkeypatch):
    # Env 0 plays episodes of one step (state 1), env 1 of two (states 0, 1); each is followed by a step
    # that only resets the env, from state 2, which is learned from in no update. Over six steps:
    #   step   env 0   env 1   the critic's gradient, −2δ / n summed over the transitions in each state
    #   0      1       0       state 1: −0.75, state 0: −0.625
    #   1      reset   1       state 1: −1.5
    #   2      1       reset   state 1: −1.5
    #   3      reset   0       state 0: −1.25
    #   4      1       1       state 1: −1.5 (two transitions, the same δ)
    #   5      reset   reset   no update
    cycle = [[-0.625, -0.75, 0.0], [0.0, -1.5, 0.0], [0.0, -1.5, 0.0], [-1.25, 0.0, 0.0], [0.0, -1.5, 0.0]]
    probes.policy_table(actor_critic, monkeypatch, "Actor", LOGITS)
    probes.value_table(actor_critic, monkeypatch, "Critic", V)
    optimizers = probes.recording_adam(monkeypatch)
    actor_critic.train(actor_critic.Args(env_id="StaggeredChain-v0", num_envs=2, **PROBE))
    actor_optimizer, critic_optimizer = optimizers
    assert len(critic_optimizer.gradients) == 3 * 5 + 2  # 20 steps: 3 cycles of six, then steps 0 and 1
    for update, (gradient,) in enumerate(critic_optimizer.gradients):
        torch.testing.assert_close(gradient, torch.tensor(cycle[update % 5]))
    # nor does the actor learn anything in state 2, not even from the entropy bonus
    assert all(not gradient[2].any() for (gradient,) in actor_optimizer.gradients)
