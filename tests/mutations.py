"""The tests of each algorithm file notice when a line of its algorithm breaks.

For every file, MUTATIONS lists one-line changes that a reviewer would call a bug. Each is applied to a
copy of algorithms/, and the file's default tests (conftest's `--only NAME`: tests/test_NAME.py and the
tests parametrized with NAME) run on the copy, stopping at the first failure: the mutation must make
them fail. A test of its own for each mutation, under -m slow, two at a time with -n 2:

    pytest -m slow tests/mutations.py -n 2

A change that the tests cannot notice because it makes no difference to what is learned is no bug, and
is not listed; NOT_BUGS says which were tried and why they are left out.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
ALGORITHMS_DIR = TESTS_DIR.parent / "algorithms"

# file: [(what the mutation breaks, the line as it is, the line broken)]; the line must occur once in the file
MUTATIONS = {
    "dqn": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the online network where the target network belongs",
            "next_q = target_network(b_next_obs).max(dim=1).values",
            "next_q = q_network(b_next_obs).max(dim=1).values",
        ),
        (
            "γ² where γ belongs",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma**2 * (1 - b_terminations) * next_q",
        ),
        (
            "the step that only resets the env stored as a transition",
            "keep = ~autoreset",
            "keep = np.ones_like(autoreset)",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], (terminations | truncations)[keep])",
        ),
        (
            "the Polyak average the wrong way round: θ⁻ ← (1 − τ) θ + τ θ⁻",
            "target_param.lerp_(param, args.tau)",
            "target_param.lerp_(param, 1 - args.tau)",
        ),
        (
            "the squared error where the Huber loss belongs",
            "loss = F.smooth_l1_loss(q_taken, td_target)",
            "loss = F.mse_loss(q_taken, td_target)",
        ),
        (
            "gradients of earlier updates left to add up",
            "            optimizer.zero_grad()\n",
            "",
        ),
    ],
    "double_dqn": [
        (
            "the target network chooses a* as well as valuing it: dqn.py's target",
            "next_actions = q_network(b_next_obs).argmax(dim=1, keepdim=True)",
            "next_actions = target_network(b_next_obs).argmax(dim=1, keepdim=True)",
        ),
        (
            "the online network values a* as well as choosing it",
            "next_q = target_network(b_next_obs).gather(1, next_actions).squeeze(1)",
            "next_q = q_network(b_next_obs).gather(1, next_actions).squeeze(1)",
        ),
        (
            "the termination mask dropped",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the step that only resets the env stored as a transition",
            "keep = ~autoreset",
            "keep = np.ones_like(autoreset)",
        ),
        (
            "a truncation stored as a termination",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], (terminations | truncations)[keep])",
        ),
    ],
    "dueling_dqn": [
        (
            "the advantage's maximum subtracted, not its mean",
            "return value + advantage - advantage.mean(dim=1, keepdim=True)",
            "return value + advantage - advantage.max(dim=1, keepdim=True).values",
        ),
        (
            "the advantage's mean over the batch, not over the actions",
            "return value + advantage - advantage.mean(dim=1, keepdim=True)",
            "return value + advantage - advantage.mean(dim=0, keepdim=True)",
        ),
        (
            "the advantage not centred: V + A",
            "return value + advantage - advantage.mean(dim=1, keepdim=True)",
            "return value + advantage",
        ),
        (
            "the value stream fed the observation, not the torso's features",
            "value, advantage = self.value(features), self.advantage(features)",
            "value, advantage = self.value(self.torso[0](x)), self.advantage(features)",
        ),
        (
            "the termination mask dropped",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the online network where the target network belongs",
            "next_q = target_network(b_next_obs).max(dim=1).values",
            "next_q = q_network(b_next_obs).max(dim=1).values",
        ),
    ],
    "per_dqn": [
        (
            "the importance weights left out of the loss",
            'loss = (b_weights * F.smooth_l1_loss(q_taken, td_target, reduction="none")).mean()',
            'loss = F.smooth_l1_loss(q_taken, td_target, reduction="none").mean()',
        ),
        (
            "the priorities not updated after learning",
            "rb.update_priorities(b_idx, (q_taken - td_target).detach().cpu().numpy())",
            "pass",
        ),
        (
            "the priority the TD target, not the TD error",
            "rb.update_priorities(b_idx, (q_taken - td_target).detach().cpu().numpy())",
            "rb.update_priorities(b_idx, td_target.detach().cpu().numpy())",
        ),
        (
            "the priority without the power α in the trees",
            "update_tree(self.sum_tree, idx, priorities**self.alpha, np.add)",
            "update_tree(self.sum_tree, idx, priorities, np.add)",
        ),
        (
            "the weights not normalised by the largest weight",
            "weights = (self.size * probs) ** -beta / (self.size * min_prob) ** -beta",
            "weights = (self.size * probs) ** -beta",
        ),
        (
            "new transitions in at priority 1, not at the largest so far",
            "leaf = self.max_priority**self.alpha",
            "leaf = 1.0",
        ),
        (
            "the termination mask dropped",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
    ],
    "noisy_dqn": [
        (
            "the noise left on in the greedy evaluation",
            "    q_network.eval()  # the means μ, without noise\n",
            "",
        ),
        (
            "training goes on without noise after an evaluation",
            "    q_network.train()\n    return returns, predicted, discounted\n",
            "    return returns, predicted, discounted\n",
        ),
        (
            "the same noise for every action until the next update",
            "        q_network.reset_noise()\n        with torch.no_grad():\n",
            "        with torch.no_grad():\n",
        ),
        (
            "the target network's noise never drawn anew",
            "            target_network.reset_noise()\n",
            "",
        ),
        (
            "the noise not factorised: f(ε) = ε, not sgn(ε) √|ε|",
            "noise = noise.sign() * noise.abs().sqrt()",
            "noise = noise",
        ),
        (
            "σ initialised at σ_0, not σ_0 / √p",
            "self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma_0 * bound))",
            "self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma_0))",
        ),
        (
            "the termination mask dropped",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
    ],
    "c51": [
        (
            "the termination does not collapse the target onto r",
            "tz = (rewards.unsqueeze(1) + gamma * (1 - terminations.unsqueeze(1)) * atoms).clamp(v_min, v_max)",
            "tz = (rewards.unsqueeze(1) + gamma * atoms).clamp(v_min, v_max)",
        ),
        (
            "a target landing on an atom loses its probability",
            "m.scatter_add_(1, lower, next_probs * (upper - b + (lower == upper)))",
            "m.scatter_add_(1, lower, next_probs * (upper - b))",
        ),
        (
            "the shares of the two neighbouring atoms swapped",
            "m.scatter_add_(1, upper, next_probs * (b - lower))",
            "m.scatter_add_(1, upper, next_probs * (upper - b))",
        ),
        (
            "b from Δz read off the float32 atoms: an index past the last atom",
            "b = (tz - v_min) / (v_max - v_min) * (len(atoms) - 1)",
            "b = (tz - v_min) / (atoms[1] - atoms[0])",
        ),
        (
            "a* chosen by the online network",
            "next_actions = (next_probs * target_network.atoms).sum(dim=2).argmax(dim=1)  # a*",
            "next_actions = q_network(b_next_obs).argmax(dim=1)  # a*",
        ),
        (
            "the online network's distribution where the target network's belongs",
            "next_probs = target_network.log_probs(b_next_obs).exp()",
            "next_probs = q_network.log_probs(b_next_obs).exp()",
        ),
        (
            "the loss's sign flipped",
            "loss = -(m * log_p_taken).sum(dim=1).mean()",
            "loss = (m * log_p_taken).sum(dim=1).mean()",
        ),
        (
            "a truncation stored as a termination",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])",
            "rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], (terminations | truncations)[keep])",
        ),
    ],
    "rainbow": [
        (
            "the priority the cross-entropy, not the KL divergence",
            "priorities = (sample_losses.detach() + torch.special.xlogy(m, m).sum(dim=1)).clamp(min=0)",
            "priorities = sample_losses.detach()",
        ),
        (
            "the importance weights left out of the loss",
            "loss = (b_weights * sample_losses).mean()",
            "loss = sample_losses.mean()",
        ),
        (
            "double Q-learning's a* chosen by the target network",
            "next_actions = (q_network if args.double else target_network)(b_next_obs).argmax(dim=1)",
            "next_actions = target_network(b_next_obs).argmax(dim=1)",
        ),
        (
            "the online network's distribution where the target network's belongs",
            "next_outputs = target_network.outputs(b_next_obs)[batch, next_actions]",
            "next_outputs = q_network.outputs(b_next_obs)[batch, next_actions]",
        ),
        (
            "the n-step discount g ignored: one-step γ for every transition",
            "m = project(next_outputs.softmax(dim=1), b_returns, b_discounts, target_network.atoms)",
            "m = project(next_outputs.softmax(dim=1), b_returns, args.gamma * torch.ones_like(b_discounts), target_network.atoms)",
        ),
        (
            "the n-step return's rewards undiscounted",
            "R = sum(self.gamma**k * r for k, (_, _, r) in enumerate(pending))",
            "R = sum(r for _, _, r in pending)",
        ),
        (
            "the n-step transition bootstraps through a termination",
            "completed.append((s, next_obs[i], a, R, self.gamma**m * (1 - terminations[i])))",
            "completed.append((s, next_obs[i], a, R, self.gamma**m))",
        ),
        (
            "the weights not normalised by the largest weight",
            "weights = (self.size * probs) ** -beta / (self.size * min_prob) ** -beta",
            "weights = (self.size * probs) ** -beta",
        ),
        (
            "the noise left on in the greedy evaluation",
            "    q_network.eval()  # the means μ of the noisy layers, without noise\n",
            "",
        ),
    ],
}

# Changes tried and left out, because they make no difference to what is learned: (file, change, why).
NOT_BUGS = [
    (
        "dqn",
        "F.smooth_l1_loss(td_target, q_taken), the arguments swapped",
        "the Huber loss is symmetric, and td_target carries no gradient: the same loss and gradient",
    ),
]


def mutated_copy(name: str, line: str, broken: str, folder: Path) -> Path:
    source = (ALGORITHMS_DIR / f"{name}.py").read_text()
    assert source.count(line) == 1, f"{name}.py holds {source.count(line)} copies of {line!r}, not one"
    copy = folder / "algorithms"
    shutil.copytree(ALGORITHMS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / f"{name}.py").write_text(source.replace(line, broken))
    return copy


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "line", "broken"),
    [
        pytest.param(name, line, broken, id=f"{name}: {what}")
        for name, cases in MUTATIONS.items()
        for what, line, broken in cases
    ],
)
def test_the_tests_of_a_file_fail_when_a_line_of_it_breaks(name, line, broken, tmp_path):
    copy = mutated_copy(name, line, broken, tmp_path)
    own_tests = [str(TESTS_DIR / f"test_{name}.py")] if (TESTS_DIR / f"test_{name}.py").exists() else []
    result = subprocess.run(
        # the file's own tests first, where a broken line is noticed soonest; -x stops at the first failure
        [sys.executable, "-m", "pytest", *own_tests, str(TESTS_DIR), "--only", name, "-x", "-q", "-n", "0"],
        env=os.environ | {"REFRL_ALGORITHMS": str(copy)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    # exit status 1: tests ran and failed; 0 would be a mutation that survived, 2 or more a broken run
    assert result.returncode == 1 and failed, (
        f"the mutation survived (exit status {result.returncode}):\n{result.stdout[-3000:]}"
    )
    print(failed[0])
