"""pqn.py's Q(λ) returns and learning step, by hand.

The returns: on a rollout of three envs written out here, with a termination, a truncation and an
episode that the rollout cuts, every G_t is worked out by hand. The learning step: train() runs on the
chain of tests/probes.py (states 0 → 1 → 2, whatever the action; leaving s earns s + 1; the episode
terminates in state 2) with its Q-network replaced by a table, and with one pass over each rollout in
one minibatch the gradient of ½ mean (Q(s, a) − G)² in the table is (Q(s, a) − G) / n at each
transition's entry: the returns learned from are read off the gradients. And what makes the file PQN:
its network normalises each hidden layer before the ReLU, and nothing in it is a target network or a
replay buffer.

pqn_atari.py keeps pqn.py's update and loop: the tests of both are run on each (pqn_atari's on the chain
seen as a 1×1 screen, tests/probes.py's ScreenChain, its rewards clipped to their sign where pqn.py's are
scaled); its screens, network and lost lives are tested in test_pqn_atari.py."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import ATARI_EXTRA, load_algorithm
from probes import Q, recording_adam

GAMMA, LAMBDA = 0.5, 0.8
NEEDS_THE_GAMES = pytest.mark.skipif(not ATARI_EXTRA, reason="the atari extra: pip install -e '.[atari]'")


@pytest.fixture(params=["pqn", pytest.param("pqn_atari", marks=NEEDS_THE_GAMES)])
def pqn(request):
    return load_algorithm(request.param)


def rollout_of(pqn, num_steps: int, num_envs: int):
    """An empty rollout of either file: pqn.py's of observation vectors, pqn_atari.py's of screens."""
    if pqn.__name__ == "pqn":
        return pqn.Rollout(num_steps, num_envs, obs_dim=1)
    return pqn.Rollout(num_steps, num_envs, (1, 1, 1), bool)


def test_the_q_lambda_returns_by_hand(pqn):
    # three envs, four steps; max Q(s_t) per step and env in `max_q`, the row after the last one the
    # states the rollout stopped in. γ = 0.5, λ = 0.8.
    rollout = rollout_of(pqn, num_steps=4, num_envs=3)
    rollout.max_q[:] = [
        [1.0, 2.0, 3.0],
        [4.0, 5.0, 6.0],
        [7.0, 8.0, 9.0],
        [10.0, 11.0, 12.0],
        [13.0, 14.0, 15.0],
    ]
    rollout.rewards[:] = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [0.0, 3.0, 3.0], [4.0, 0.0, 4.0]]
    # env 0 terminates at step 1 and only resets at step 2; env 1 is truncated at step 2 and only resets at
    # step 3; env 2's episode runs through the rollout and is cut by its end
    rollout.terminated[:] = [[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]
    rollout.ended[:] = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]
    returns = rollout.returns(GAMMA, LAMBDA)
    # G_t = r_t + γ (1 − terminated_t) [Q_{t+1} + λ (1 − ended_t) (G_{t+1} − Q_{t+1})], G_4 = Q_4
    # env 2, never ended: G_3 = 4 + 0.5 · 15 = 11.5 (Q_4 + λ (Q_4 − Q_4)); G_2 = 3 + 0.5 (12 + 0.8 (11.5 − 12))
    # = 8.8; G_1 = 2 + 0.5 (9 + 0.8 (8.8 − 9)) = 6.42; G_0 = 1 + 0.5 (6 + 0.8 (6.42 − 6)) = 4.168
    # env 1, truncated at step 2: G_2 = 3 + 0.5 · 11 = 8.5 (the bootstrap alone, the sum stops);
    # G_1 = 2 + 0.5 (8 + 0.8 (8.5 − 8)) = 6.2; G_0 = 1 + 0.5 (5 + 0.8 (6.2 − 5)) = 3.98
    # env 0, terminated at step 1: G_1 = 2 (no future); G_0 = 1 + 0.5 (4 + 0.8 (2 − 4)) = 2.2
    # the steps that only reset an env (env 0 at step 2, env 1 at step 3) are learned from by no one
    expected = {
        (0, 0): 2.2, (1, 0): 2.0,
        (0, 1): 3.98, (1, 1): 6.2, (2, 1): 8.5,
        (0, 2): 4.168, (1, 2): 6.42, (2, 2): 8.8, (3, 2): 11.5,
    }  # fmt: skip
    for (t, env), value in expected.items():
        assert returns[t, env] == pytest.approx(value), (t, env)


@pytest.mark.parametrize("q_lambda", [0.0, 1.0])
def test_lambda_0_is_q_learning_and_lambda_1_the_rollout_s_rewards(pqn, q_lambda):
    rollout = rollout_of(pqn, num_steps=3, num_envs=1)
    rollout.max_q[:, 0] = [1.0, 2.0, 3.0, 4.0]
    rollout.rewards[:, 0] = [1.0, 1.0, 1.0]
    returns = rollout.returns(0.9, q_lambda)[:, 0]
    if q_lambda == 0.0:  # r + γ max Q(s')
        np.testing.assert_allclose(returns, [1 + 0.9 * 2, 1 + 0.9 * 3, 1 + 0.9 * 4], rtol=1e-6)
    else:  # the rewards to the rollout's end, then max Q of the state it stopped in
        np.testing.assert_allclose(returns, [2.71 + 0.729 * 4, 1.9 + 0.81 * 4, 1 + 0.9 * 4], rtol=1e-6)


def q_table(pqn, monkeypatch, table=Q):
    """Replace the file's QNetwork with a table, Q(s, ·) = table[s]; returns the networks made."""
    made = []

    class TableQNetwork(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.table = nn.Parameter(torch.tensor(table, dtype=torch.float32))
            made.append(self)

        def forward(self, x):  # a one-hot vector, or a 1×1 screen of one-hot channels
            return x.flatten(1).float() @ self.table

    monkeypatch.setattr(pqn, "QNetwork", TableQNetwork)
    return made


def probe(pqn, **changes):
    """One env on the chain, rollouts of three steps (state 0, state 1, then the step that only resets),
    one pass of one minibatch a rollout, γ = 0.5, λ = 0.8, a learning rate so small that the table keeps
    its values, and every action at random. pqn.py's rewards halved (1 and 2 become 0.5 and 1);
    pqn_atari.py's, on the screen chain, clipped to their sign (1 and 1)."""
    settings = dict(env_id="Chain-v0", num_envs=1, num_steps=3, total_timesteps=60, update_epochs=1)
    settings |= dict(num_minibatches=1, gamma=GAMMA, q_lambda=LAMBDA, learning_rate=1e-9, max_grad_norm=1e6)
    settings |= dict(start_e=1.0, end_e=1.0, eval_episodes=1) | changes
    if pqn.__name__ == "pqn":
        return pqn.Args(**(dict(reward_scale=0.5) | settings))
    screens = {"Chain-v0": "MinAtar/ScreenChain-v0", "ChainCut-v0": "MinAtar/ScreenChainCut-v0"}
    return pqn.Args(**(settings | dict(env_id=screens[settings["env_id"]])))


# With the table Q of probes.py (max Q(1, ·) = 2.5) and pqn.py's rewards halved: from state 1, r = 1 and
# the episode terminates, G = 1; from state 0, r = 0.5 and the episode goes on in the rollout,
# G = 0.5 + 0.5 (2.5 + 0.8 (1 − 2.5)) = 1.15. With pqn_atari.py's clipped to 1 and 1: G = 1 from state 1,
# and from state 0 G = 1 + 0.5 (2.5 + 0.8 (1 − 2.5)) = 1.65.
# The chain cut by a time limit in state 1: the transition from state 0 is truncated, and bootstraps from
# max Q(1, ·) alone, G = 0.5 + 0.5 · 2.5 = 1.75 (pqn_atari: 1 + 1.25 = 2.25); rollouts of one step end in
# state 1, mid-episode, and bootstrap from the state they stopped in: the same G, and 1 from state 1.
CASES = {
    "rollouts of three steps": ("Chain-v0", 3, {0: (1.15, 1.65), 1: (1.0, 1.0)}),
    "truncated in state 1": ("ChainCut-v0", 2, {0: (1.75, 2.25)}),
    "rollouts of one step": ("Chain-v0", 1, {0: (1.75, 2.25), 1: (1.0, 1.0)}),
}


@pytest.mark.parametrize(("env_id", "num_steps", "returns"), CASES.values(), ids=CASES)
def test_each_update_learns_the_q_lambda_returns_of_its_rollout(pqn, monkeypatch, env_id, num_steps, returns):
    returns = {state: values[pqn.__name__ == "pqn_atari"] for state, values in returns.items()}
    q_table(pqn, monkeypatch)
    optimizers = recording_adam(monkeypatch, "RAdam")
    pqn.train(probe(pqn, env_id=env_id, num_steps=num_steps))
    (optimizer,) = optimizers
    assert len(optimizer.gradients) >= 15
    entries = set()
    for (gradient,) in optimizer.gradients:
        # ½ mean over the n transitions of (Q(s, a) − G)²: (Q(s, a) − G) / n in each entry learned from
        learned = gradient.nonzero().tolist()
        n = len(learned)
        for state, action in learned:
            entries.add((state, action))
            expected = (Q[state][action] - returns[state]) / n
            assert float(gradient[state, action]) == pytest.approx(expected, abs=1e-6), (state, action)
    # every action of every state acted in (at random), nothing else
    assert entries == {(state, action) for state in returns for action in (0, 1)}


def test_the_gradient_is_clipped_to_max_grad_norm(pqn, monkeypatch):
    # the same rollouts learned from twice: unclipped, then clipped to 0.01; clip_grad_norm_ scales the
    # whole gradient by max_grad_norm / (its norm + 1e-6)
    norms = []
    for max_grad_norm in (1e6, 0.01):
        with monkeypatch.context() as patches:
            q_table(pqn, patches)
            optimizers = recording_adam(patches, "RAdam")
            pqn.train(probe(pqn, max_grad_norm=max_grad_norm))
        norms.append([step[0].norm() for step in optimizers[0].gradients])
    unclipped, clipped = norms
    assert len(clipped) == len(unclipped) >= 15 and min(unclipped) > 0.01
    torch.testing.assert_close(clipped, [norm * 0.01 / (norm + 1e-6) for norm in unclipped])


def test_each_hidden_layer_is_normalised_before_its_relu():
    # Linear, LayerNorm, ReLU twice, then the output layer (pqn_atari's network: test_pqn_atari.py)
    network = load_algorithm("pqn").QNetwork(obs_dim=4, n_actions=2, hidden_size=8)
    kinds = [type(layer) for layer in network.network]
    assert kinds == [nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear]
    # normalised right after its linear map, a layer's units are blind to the map's scale and to a shift of
    # them all: Q stays the same when each hidden layer's weights and bias are multiplied by 5 and its bias
    # raised by 3, which a ReLU before the normalisation (or no normalisation) would not allow
    x = torch.randn(16, 4)
    before = network(x)
    with torch.no_grad():
        for i in (0, 3):
            network.network[i].weight.mul_(5)
            network.network[i].bias.mul_(5).add_(3)
    torch.testing.assert_close(network(x), before, atol=1e-4, rtol=1e-4)
    # and each LayerNorm has its gain and bias, learned with the rest
    learned = set(network.parameters())
    for layer in (network.network[1], network.network[4]):
        assert layer.weight in learned and layer.bias in learned


def test_one_network_learns_from_its_own_values_with_no_target_network_and_no_buffer(pqn, monkeypatch):
    # train() makes one Q-network, and the checkpoint holds it and its optimizer, nothing else of the
    # learner; the values the returns bootstrap from are that network's (the probes above)
    made = q_table(pqn, monkeypatch)
    summary = pqn.train(probe(pqn, save_model=True))
    assert len(made) == 1
    checkpoint = torch.load(summary["model_path"], weights_only=True)
    plumbing = {
        "algorithm",
        "args",
        "run_name",
        "global_step",
        "envs",
        "recent_returns",
        "planned_steps",
        "random",
    }
    assert set(checkpoint) - plumbing == {"q_network", "optimizer"}
    assert not [name for name in vars(pqn) if "buffer" in name.lower() or "target" in name.lower()]


@pytest.mark.parametrize("num_minibatches", [1, 3, 20])
def test_each_pass_learns_from_every_transition_once(pqn, monkeypatch, num_minibatches):
    # one rollout of 4 envs × 6 steps on the chain: 16 transitions (the reset steps are none), in 1 or 3
    # minibatches a pass, each transition in exactly one of them; asked for 20, 16 of one transition each
    seen, permutation = [], np.random.permutation

    def recording_permutation(n):
        order = permutation(n)
        seen.append(np.sort(order))
        return order

    monkeypatch.setattr(np.random, "permutation", recording_permutation)
    q_table(pqn, monkeypatch)
    optimizers = recording_adam(monkeypatch, "RAdam")
    settings = dict(num_envs=4, num_steps=6, total_timesteps=24, update_epochs=2)
    pqn.train(probe(pqn, **settings, num_minibatches=num_minibatches))
    assert len(optimizers[0].gradients) == 2 * min(num_minibatches, 16)
    assert all(np.array_equal(order, np.arange(16)) for order in seen) and len(seen) == 2


def test_the_actions_are_the_greedy_ones_where_epsilon_is_0(pqn, monkeypatch):
    # ε = 0: in state 0 the table prefers action 0 (1.5 against 1.2), in state 1 action 1 (2.5 against 1.6),
    # and only those are learned from
    q_table(pqn, monkeypatch)
    optimizers = recording_adam(monkeypatch, "RAdam")
    pqn.train(probe(pqn, start_e=0.0, end_e=0.0))
    entries = {
        tuple(entry) for (gradient,) in optimizers[0].gradients for entry in gradient.nonzero().tolist()
    }
    assert entries == {(0, 0), (1, 1)}


def test_each_env_draws_its_own_exploration(pqn, monkeypatch):
    # ε = 0.5 throughout, and the draws hand-set: env 0 draws 0.2 (< ε: it explores), env 1 draws 0.7 (it
    # acts greedily). Env 1's actions are the table's greedy ones in every state; env 0's are drawn at random
    acted = []

    class RecordingRollout(pqn.Rollout):
        def add(self, t, obs, max_q, actions, *args):
            acted.append((obs.reshape(len(obs), -1).argmax(axis=1), actions.copy()))
            super().add(t, obs, max_q, actions, *args)

    monkeypatch.setattr(pqn, "Rollout", RecordingRollout)
    monkeypatch.setattr(np.random, "random", lambda size: np.array([0.2, 0.7])[:size])
    q_table(pqn, monkeypatch)
    pqn.train(probe(pqn, num_envs=2, total_timesteps=120, start_e=0.5, end_e=0.5))
    greedy = {0: 0, 1: 1, 2: 0}  # state 2 only resets, its action ignored
    assert all(actions[1] == greedy[states[1]] for states, actions in acted)
    assert any(actions[0] != greedy[states[0]] for states, actions in acted if states[0] < 2)


@pytest.mark.parametrize("anneal_lr", [True, False])
def test_the_learning_rate_is_annealed_only_when_asked(pqn, monkeypatch, anneal_lr):
    rates = []

    class RecordingRate(torch.optim.RAdam):
        def step(self, closure=None):
            rates.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "RAdam", RecordingRate)
    q_table(pqn, monkeypatch)
    pqn.train(probe(pqn, total_timesteps=12, anneal_lr=anneal_lr))
    assert rates == pytest.approx([1e-9, 0.75e-9, 0.5e-9, 0.25e-9] if anneal_lr else [1e-9] * 4)


def test_the_learning_rate_stays_at_0_past_the_budget_the_run_began_with(pqn):
    # a run of 512 steps, resumed to go on to 1,024: its learning rate fell to 0 at step 512 (never below,
    # which would climb the loss), and the network learns no more
    settings = dict(seed=1, num_envs=4, num_steps=8, eval_episodes=1, save_model=True, stop_when_solved=False)
    settings |= dict(anneal_lr=True, num_minibatches=4)
    if pqn.__name__ == "pqn_atari":
        settings |= dict(env_id="MinAtar/Breakout-v1")
    first = pqn.train(pqn.Args(total_timesteps=512, **settings))
    before = torch.load(first["model_path"], weights_only=True)["q_network"]
    pqn.train(pqn.Args(total_timesteps=1_024, resume=first["model_path"], **settings))
    after = torch.load(first["model_path"], weights_only=True)
    assert after["global_step"] == 1_024
    assert all(torch.equal(value, after["q_network"][name]) for name, value in before.items())


def test_epsilon_stays_at_end_e_once_it_is_reached(pqn, monkeypatch):
    # ε from 1 to end_e = 0.5 over the first 30 of 120 steps, then 0.5; every draw hand-set to 0.4, below
    # ε throughout: every action is drawn at random, the non-greedy ones too. An ε that fell on past end_e
    # would pass 0.4 at step 36 and act greedily from then on.
    acted = []

    class RecordingRollout(pqn.Rollout):
        def add(self, t, obs, max_q, actions, *args):
            acted.append((int(obs[0].argmax()), int(actions[0])))
            super().add(t, obs, max_q, actions, *args)

    monkeypatch.setattr(pqn, "Rollout", RecordingRollout)
    monkeypatch.setattr(np.random, "random", lambda size: np.full(size, 0.4))
    q_table(pqn, monkeypatch)
    pqn.train(probe(pqn, total_timesteps=120, end_e=0.5, exploration_fraction=0.25))
    greedy = {0: 0, 1: 1}
    late = [(state, action) for state, action in acted[60:] if state < 2]
    assert any(action != greedy[state] for state, action in late)
