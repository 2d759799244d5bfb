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

# The lines of the pixel files' screens that all three share, and the same breaks of them
PIXEL_SCREENS = [
    (
        "the lives never updated: every step after the first lost life loses one",
        'obs, lives = next_obs, infos.get("lives", lives)',
        "obs = next_obs",
    ),
    (
        "MinAtar's sticky action carried into the next episode",
        "self.unwrapped.game.last_action = 0",
        "pass",
    ),
]

# The Gaussian policy of the policy-gradient files for continuous actions: the same lines in a2c.py,
# a3c.py and ppo.py, and the same breaks of them
GAUSSIAN_POLICY = [
    (
        "a Gaussian's log-probability per action dimension, not summed: it broadcasts against the advantages",
        "pi = Independent(Normal(out, self.log_std.exp()), 1) if self.continuous else Categorical(logits=out)",
        "pi = Normal(out, self.log_std.exp()) if self.continuous else Categorical(logits=out)",
    ),
    (
        "log σ a buffer, not a parameter: σ is never learned",
        "self.log_std = nn.Parameter(torch.zeros(n_out))  # σ = 1 at first: wide exploration",
        'self.register_buffer("log_std", torch.zeros(n_out))  # σ = 1 at first: wide exploration',
    ),
    (
        "log σ a parameter that nothing learns (requires_grad=False)",
        "self.log_std = nn.Parameter(torch.zeros(n_out))  # σ = 1 at first: wide exploration",
        "self.log_std = nn.Parameter(torch.zeros(n_out), requires_grad=False)  # σ = 1 at first: wide exploration",
    ),
    (
        "log σ starting at 1 (σ = e), not 0",
        "self.log_std = nn.Parameter(torch.zeros(n_out))  # σ = 1 at first: wide exploration",
        "self.log_std = nn.Parameter(torch.ones(n_out))  # σ = 1 at first: wide exploration",
    ),
    (
        "one log σ for every action dimension",
        "self.log_std = nn.Parameter(torch.zeros(n_out))  # σ = 1 at first: wide exploration",
        "self.log_std = nn.Parameter(torch.zeros(1))  # σ = 1 at first: wide exploration",
    ),
    (
        "σ detached from log σ: the policy's σ learns nothing",
        "pi = Independent(Normal(out, self.log_std.exp()), 1) if self.continuous else Categorical(logits=out)",
        "pi = Independent(Normal(out, self.log_std.exp().detach()), 1) if self.continuous else Categorical(logits=out)",
    ),
    (
        "one Gaussian mean, whatever the action's dimensions",
        "n_out = action_space.shape[0] if self.continuous else action_space.n",
        "n_out = 1 if self.continuous else action_space.n",
    ),
    (
        "every action dimension clipped to the first one's bounds",
        "return np.clip(actions, space.low, space.high) if isinstance(space, gym.spaces.Box) else actions",
        "return np.clip(actions, space.low[0], space.high[0]) if isinstance(space, gym.spaces.Box) else actions",
    ),
    (
        "the rollout keeps one number per env for an action: a vector action does not fit",
        "self.actions = np.zeros((num_steps, num_envs, *action_shape), dtype=action_dtype)",
        "self.actions = np.zeros((num_steps, num_envs), dtype=action_dtype)",
    ),
    (
        "the greedy action squashed by tanh, not the Gaussian's mean",
        "return out if self.continuous else out.argmax(dim=1)",
        "return out.tanh() if self.continuous else out.argmax(dim=1)",
    ),
]

# file: [(what the mutation breaks, the line as it is, the line broken)]; the line must occur once in the file
# The clips of a2c.py's and ppo.py's observation and reward normalisation: the same lines in both, and
# each side of each clip broken alone
NORMALISATION_CLIPS = [
    (
        "the normalised observations clipped above only: below −10 they pass",
        "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()",
        "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(max=10).float()",
    ),
    (
        "the normalised rewards clipped above only: below −10 they pass",
        "rewards = np.clip(rewards / return_rms.std().item(), -10, 10)",
        "rewards = np.minimum(rewards / return_rms.std().item(), 10)",
    ),
    (
        "the normalised observations clipped below only: above 10 they pass",
        "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()",
        "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(min=-10).float()",
    ),
    (
        "the normalised rewards clipped below only: above 10 they pass",
        "rewards = np.clip(rewards / return_rms.std().item(), -10, 10)",
        "rewards = np.maximum(rewards / return_rms.std().item(), -10)",
    ),
]

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
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.mse_loss(q_taken, td_target)",
        ),
        (
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.huber_loss(q_taken, td_target, delta=1.0)",
        ),
        (
            "gradients of earlier updates left to add up",
            "            optimizer.zero_grad()\n",
            "",
        ),
        (
            "a checkpoint unpickled whole: a stranger's file runs its code when --evaluate reads it (the plumbing)",
            'checkpoint = torch.load(path, map_location="cpu", weights_only=True)',
            'checkpoint = torch.load(path, map_location="cpu", weights_only=False)',
        ),
    ],
    "double_dqn": [
        (
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.huber_loss(q_taken, td_target, delta=1.0)",
        ),
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
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.huber_loss(q_taken, td_target, delta=1.0)",
        ),
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
            "loss = (b_weights * sample_losses).mean()",
            "loss = sample_losses.mean()",
        ),
        (
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            'sample_losses = F.huber_loss(q_taken, td_target, reduction="none", delta=args.huber_delta)',
            'sample_losses = F.huber_loss(q_taken, td_target, reduction="none", delta=1.0)',
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
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.huber_loss(q_taken, td_target, delta=1.0)",
        ),
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
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            'sample_losses = F.huber_loss(q_taken, td_target, reduction="none", delta=args.huber_delta)',
            'sample_losses = F.huber_loss(q_taken, td_target, reduction="none", delta=1.0)',
        ),
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
    "ddpg": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "γ² where γ belongs",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma**2 * (1 - b_terminations) * next_q",
        ),
        (
            "the online critic where the target critic belongs",
            "next_q = target_critic(b_next_obs, target_actor(b_next_obs))",
            "next_q = critic(b_next_obs, target_actor(b_next_obs))",
        ),
        (
            "the online actor where the target actor belongs",
            "next_q = target_critic(b_next_obs, target_actor(b_next_obs))",
            "next_q = target_critic(b_next_obs, actor(b_next_obs))",
        ),
        (
            "the critic learns Q(s, μ(s)), not Q(s, a) of the action taken",
            "q_taken = critic(b_obs, b_actions)",
            "q_taken = critic(b_obs, actor(b_obs))",
        ),
        (
            "the actor's loss with the wrong sign: it descends the critic",
            "actor_loss = -critic(b_obs, actor(b_obs)).mean()",
            "actor_loss = critic(b_obs, actor(b_obs)).mean()",
        ),
        (
            "the actor's loss through the target critic",
            "actor_loss = -critic(b_obs, actor(b_obs)).mean()",
            "actor_loss = -target_critic(b_obs, actor(b_obs)).mean()",
        ),
        (
            "the Polyak average the wrong way round: θ⁻ ← (1 − τ) θ + τ θ⁻",
            "target_param.lerp_(param, args.tau)",
            "target_param.lerp_(param, 1 - args.tau)",
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
            "the noise added after clipping: actions outside the bounds",
            "actions = np.clip(actions + noise, low, high).astype(np.float32)",
            "actions = (np.clip(actions, low, high) + noise).astype(np.float32)",
        ),
        (
            "the clip to [−1, 1], whatever the env's bounds",
            "actions = np.clip(actions + noise, low, high).astype(np.float32)",
            "actions = np.clip(actions + noise, -1.0, 1.0).astype(np.float32)",
        ),
        (
            "the noise's σ not in units of half the action range",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, args.exploration_noise, size=actions.shape)",
        ),
        (
            "exploration noise left on in the greedy evaluation",
            "actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()\n"
            "            obs, rewards, terminations, truncations, infos = envs.step(actions)",
            "actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()\n"
            "            actions += np.random.normal(0.0, 0.1, size=actions.shape)\n"
            "            obs, rewards, terminations, truncations, infos = envs.step(actions)",
        ),
        (
            "the actor's tanh scaled to the whole action range, not half of it",
            'self.register_buffer("action_scale", (high - low) / 2)',
            'self.register_buffer("action_scale", high - low)',
        ),
        (
            "the Ornstein-Uhlenbeck process not restarted with a new episode",
            "        self.x[restart] = 0.0\n",
            "",
        ),
        (
            "the target actor not started as a copy of the online actor",
            "    target_actor.load_state_dict(actor.state_dict())\n",
            "",
        ),
        (
            "the target critic not started as a copy of the online critic",
            "    target_critic.load_state_dict(critic.state_dict())\n",
            "",
        ),
        (
            "the exploring actions clipped at the upper bound only: below the lower bound they are kept",
            "actions = np.clip(actions + noise, low, high).astype(np.float32)",
            "actions = np.minimum(actions + noise, high).astype(np.float32)",
        ),
        (
            "the exploring actions clipped at the lower bound only: above the upper bound they are kept",
            "actions = np.clip(actions + noise, low, high).astype(np.float32)",
            "actions = np.maximum(actions + noise, low).astype(np.float32)",
        ),
        (
            "the exploration's bounds and noise the widest of any dimension, not each dimension's own",
            "low, high = action_space.low, action_space.high",
            "low, high = action_space.low.min(), action_space.high.max()",
        ),
        (
            "one exploration noise per env, shared by the action dimensions",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=(args.num_envs, 1))",
        ),
        (
            "the Ornstein-Uhlenbeck noise not scaled to half the action range",
            "noise = ou_noise(restart=autoreset) * (high - low) / 2",
            "noise = ou_noise(restart=autoreset)",
        ),
        (
            "the Ornstein-Uhlenbeck process restarted at every step of an episode, not at its first",
            "noise = ou_noise(restart=autoreset) * (high - low) / 2",
            "noise = ou_noise(restart=~autoreset) * (high - low) / 2",
        ),
        (
            "one Ornstein-Uhlenbeck process per env, shared by the action dimensions",
            "ou_noise = OrnsteinUhlenbeck((args.num_envs, action_dim))",
            "ou_noise = OrnsteinUhlenbeck((args.num_envs, 1))",
        ),
        (
            "the actor's center (high − low) / 2, right only where the lower bound is 0",
            'self.register_buffer("action_center", (high + low) / 2)',
            'self.register_buffer("action_center", (high - low) / 2)',
        ),
        (
            "the actor's last layer of one output, broadcast to every action dimension",
            "nn.Linear(hidden_size, action_space.shape[0]),",
            "nn.Linear(hidden_size, 1),",
        ),
        (
            "the critic's value of shape (batch, 1), broadcast against targets of shape (batch,)",
            "return self.network(torch.cat([x, a], dim=1)).squeeze(1)",
            "return self.network(torch.cat([x, a], dim=1))",
        ),
        (
            "the critic's first layer sized for one action dimension",
            "nn.Linear(obs_dim + action_dim, hidden_size),",
            "nn.Linear(obs_dim + 1, hidden_size),",
        ),
        (
            "uniform actions one step short of --learning-starts",
            "if global_step <= args.learning_starts:",
            "if global_step < args.learning_starts:",
        ),
        (
            "learning starts one transition early",
            "if rb.size > args.learning_starts:",
            "if rb.size >= args.learning_starts:",
        ),
        (
            "the actor learns at --critic-learning-rate",
            "actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)",
            "actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.critic_learning_rate, fused=True)",
        ),
        (
            "the newest transition in the buffer never sampled",
            "idx = self.rng.integers(0, self.size, batch_size)",
            "idx = self.rng.integers(0, self.size - 1, batch_size)",
        ),
        (
            "batches of one transition, whatever --batch-size says",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(args.batch_size)",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(1)",
        ),
        (
            "the exploration noise's σ the default 0.1, whatever --exploration-noise says",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, 0.1 * (high - low) / 2, size=actions.shape)",
        ),
        (
            "the critic's squared errors summed over the batch, not averaged",
            "critic_loss = F.mse_loss(q_taken, td_target)",
            'critic_loss = F.mse_loss(q_taken, td_target, reduction="sum")',
        ),
        (
            "the actor's loss summed over the batch, not averaged",
            "actor_loss = -critic(b_obs, actor(b_obs)).mean()",
            "actor_loss = -critic(b_obs, actor(b_obs)).sum()",
        ),
    ],
    "td3": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the first target critic alone in the target, not the smaller of the two",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions))",
            "next_q = target_critic(b_next_obs, next_actions)[0]",
        ),
        (
            "the larger of the two target critics in the target",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions))",
            "next_q = torch.max(*target_critic(b_next_obs, next_actions))",
        ),
        (
            "the online critics where the target critics belong",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions))",
            "next_q = torch.min(*critic(b_next_obs, next_actions))",
        ),
        (
            "the target policy's noise not clipped to ±c",
            "noise = noise.clamp(-args.noise_clip, args.noise_clip)",
            "noise = noise",
        ),
        (
            "the smoothed target action not clipped to the bounds",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low, action_high)",
            "next_actions = target_actor(b_next_obs) + noise * half_range",
        ),
        (
            "the target policy's noise not scaled to the action range",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low, action_high)",
            "next_actions = (target_actor(b_next_obs) + noise).clamp(action_low, action_high)",
        ),
        (
            "the second critic left out of the critics' loss",
            "critic_loss = F.mse_loss(q1_taken, td_target) + F.mse_loss(q2_taken, td_target)",
            "critic_loss = F.mse_loss(q1_taken, td_target)",
        ),
        (
            "the actor updated at every step, without the delay",
            "if iteration % args.policy_frequency == 0:",
            "if True:",
        ),
        (
            "the actor climbs the second critic",
            "actor_loss = -critic(b_obs, actor(b_obs))[0].mean()",
            "actor_loss = -critic(b_obs, actor(b_obs))[1].mean()",
        ),
        (
            "the delay counted in env steps, not in updates (with --num-envs 2 and d = 2, no delay)",
            "if iteration % args.policy_frequency == 0:",
            "if global_step % args.policy_frequency == 0:",
        ),
        (
            "learning starts one transition early",
            "if rb.size > args.learning_starts:",
            "if rb.size >= args.learning_starts:",
        ),
        (
            "uniform actions one step short of --learning-starts",
            "if global_step <= args.learning_starts:",
            "if global_step < args.learning_starts:",
        ),
        (
            "the exploration noise not scaled to the action range",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, args.exploration_noise, size=actions.shape)",
        ),
        (
            "the critics' values of shape (batch, 1), broadcast against targets of shape (batch,)",
            "return self.q1(xa).squeeze(1), self.q2(xa).squeeze(1)",
            "return self.q1(xa), self.q2(xa)",
        ),
        (
            "the target actor not started as a copy of the online actor",
            "    target_actor.load_state_dict(actor.state_dict())\n",
            "",
        ),
        (
            "the target critics not started as copies of the online critics",
            "    target_critic.load_state_dict(critic.state_dict())\n",
            "",
        ),
        (
            "the exploring actions clipped at the upper bound only: below the lower bound they are kept",
            "actions = np.clip(actions + noise, low, high).astype(np.float32)",
            "actions = np.minimum(actions + noise, high).astype(np.float32)",
        ),
        (
            "one exploration noise for all the envs, numpy's shape of its scale",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2)",
        ),
        (
            "the Ornstein-Uhlenbeck noise not scaled to half the action range",
            "noise = ou_noise(restart=autoreset) * (high - low) / 2",
            "noise = ou_noise(restart=autoreset)",
        ),
        (
            "the actor's center (high − low) / 2, right only where the lower bound is 0",
            'self.register_buffer("action_center", (high + low) / 2)',
            'self.register_buffer("action_center", (high - low) / 2)',
        ),
        (
            "the target policy's noise clipped above only: below −c it is kept",
            "noise = noise.clamp(-args.noise_clip, args.noise_clip)",
            "noise = noise.clamp(max=args.noise_clip)",
        ),
        (
            "the target policy's noise clipped below only: above +c it is kept",
            "noise = noise.clamp(-args.noise_clip, args.noise_clip)",
            "noise = noise.clamp(min=-args.noise_clip)",
        ),
        (
            "the smoothed target action clipped at the upper bound only",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low, action_high)",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(max=action_high)",
        ),
        (
            "the smoothed target action clipped at the lower bound only",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low, action_high)",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(min=action_low)",
        ),
        (
            "the smoothed target action clipped to the first dimension's bounds in every dimension",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low, action_high)",
            "next_actions = (target_actor(b_next_obs) + noise * half_range).clamp(action_low[0], action_high[0])",
        ),
        (
            "the target policy's noise scaled to the first dimension's half range in every dimension",
            "half_range = (action_high - action_low) / 2",
            "half_range = (action_high - action_low)[0] / 2",
        ),
        (
            "one target policy noise per transition, shared by the action dimensions",
            "noise = torch.randn_like(b_actions) * args.policy_noise",
            "noise = torch.randn_like(b_rewards) * args.policy_noise",
        ),
        (
            "the critics learn at --learning-rate, the actor's",
            "critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.critic_learning_rate, fused=True)",
            "critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.learning_rate, fused=True)",
        ),
        (
            "the ring buffer's slots not wrapped: two envs' transitions written past its end",
            "idx = (self.pos + np.arange(len(actions))) % self.buffer_size",
            "idx = self.pos + np.arange(len(actions))",
        ),
        (
            "batches of one transition, whatever --batch-size says",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(args.batch_size)",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(1)",
        ),
        (
            "exploration noise left on in the greedy evaluation",
            "actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()\n"
            "            obs, rewards, terminations, truncations, infos = envs.step(actions)",
            "actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()\n"
            "            actions += np.random.normal(0.0, 0.1, size=actions.shape)\n"
            "            obs, rewards, terminations, truncations, infos = envs.step(actions)",
        ),
        (
            "the exploration noise's σ the default 0.1, whatever --exploration-noise says",
            "noise = np.random.normal(0.0, args.exploration_noise * (high - low) / 2, size=actions.shape)",
            "noise = np.random.normal(0.0, 0.1 * (high - low) / 2, size=actions.shape)",
        ),
        (
            "the target policy's noise σ̃ the default 0.2, whatever --policy-noise says",
            "noise = torch.randn_like(b_actions) * args.policy_noise",
            "noise = torch.randn_like(b_actions) * 0.2",
        ),
        (
            "the target policy's noise clipped at the default c = 0.5, whatever --noise-clip says",
            "noise = noise.clamp(-args.noise_clip, args.noise_clip)",
            "noise = noise.clamp(-0.5, 0.5)",
        ),
        (
            "the critics' squared errors summed over the batch, not averaged",
            "critic_loss = F.mse_loss(q1_taken, td_target) + F.mse_loss(q2_taken, td_target)",
            'critic_loss = F.mse_loss(q1_taken, td_target, reduction="sum") + F.mse_loss(q2_taken, td_target, reduction="sum")',
        ),
        (
            "the actor's loss summed over the batch, not averaged",
            "actor_loss = -critic(b_obs, actor(b_obs))[0].mean()",
            "actor_loss = -critic(b_obs, actor(b_obs))[0].sum()",
        ),
    ],
    "sac": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the entropy left out of the target",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions))",
        ),
        (
            "the entropy's sign flipped in the target",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) + alpha * next_log_prob",
        ),
        (
            "the second target critic alone in the target",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = target_critic(b_next_obs, next_actions)[1] - alpha * next_log_prob",
        ),
        (
            "the online critics where the target critics belong",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = torch.min(*critic(b_next_obs, next_actions)) - alpha * next_log_prob",
        ),
        (
            "the actor climbs the first critic alone, not the smaller",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (alpha * log_prob - critic(b_obs, new_actions)[0]).mean()",
        ),
        (
            "the actor's loss without the entropy",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (-torch.min(*critic(b_obs, new_actions))).mean()",
        ),
        (
            "α's loss with the wrong sign: α rises while the entropy is above its target",
            "alpha_loss = -(temperature() * (log_prob.detach() + target_entropy)).mean()",
            "alpha_loss = (temperature() * (log_prob.detach() + target_entropy)).mean()",
        ),
        (
            "the target entropy +|A| for −|A|",
            "target_entropy = -action_dim  # H̄ = −|A|",
            "target_entropy = action_dim  # H̄ = −|A|",
        ),
        (
            "the log-probability without the change of variables of tanh",
            "log_prob = (log_normal - log_det).sum(dim=1)",
            "log_prob = log_normal.sum(dim=1)",
        ),
        (
            "log π not summed over the action's dimensions: the first dimension's alone",
            "log_prob = (log_normal - log_det).sum(dim=1)",
            "log_prob = (log_normal - log_det)[:, 0]",
        ),
        (
            "log σ not kept within [−20, 2]",
            "log_std = self.log_std(hidden).clamp(-20, 2)",
            "log_std = self.log_std(hidden)",
        ),
        (
            "the change of variables as the common log(1 − tanh² + 1e-6), wrong where tanh saturates",
            "log_det = 2 * (math.log(2) - u - F.softplus(-2 * u))",
            "log_det = torch.log(1 - torch.tanh(u) ** 2 + 1e-6)",
        ),
        (
            "the draw not reparameterised: no gradient reaches the actor through the action",
            "u = mean + log_std.exp() * xi",
            "u = (mean + log_std.exp() * xi).detach()",
        ),
        (
            "log N(u) from the detached draw: the right value, a spurious gradient in μ",
            "log_normal = -0.5 * xi**2 - log_std - 0.5 * math.log(2 * math.pi)",
            "log_normal = -0.5 * ((u.detach() - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)",
        ),
        (
            "learning starts one transition early",
            "if rb.size > args.learning_starts:",
            "if rb.size >= args.learning_starts:",
        ),
        (
            "the critics' values of shape (batch, 1), broadcast against targets of shape (batch,)",
            "return self.q1(xa).squeeze(1), self.q2(xa).squeeze(1)",
            "return self.q1(xa), self.q2(xa)",
        ),
        (
            "the evaluation draws from the policy instead of acting with its mean",
            "                actions = actor(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()",
            "                actions = actor.sample(torch.as_tensor(obs, dtype=torch.float32, device=device))[0].cpu().numpy()",
        ),
        (
            "the target critics not started as copies of the online critics",
            "    target_critic.load_state_dict(critic.state_dict())\n",
            "",
        ),
        (
            "--alpha in the target and the actor's loss, not the α learned",
            "alpha = temperature().detach()",
            "alpha = torch.tensor(args.alpha)",
        ),
        (
            "--alpha in the target, not the α learned",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - args.alpha * next_log_prob",
        ),
        (
            "α learns at --critic-learning-rate",
            "alpha_optimizer = torch.optim.Adam(temperature.parameters(), lr=args.learning_rate)",
            "alpha_optimizer = torch.optim.Adam(temperature.parameters(), lr=args.critic_learning_rate)",
        ),
        (
            "the actor learns at --critic-learning-rate",
            "actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.learning_rate, fused=True)",
            "actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.critic_learning_rate, fused=True)",
        ),
        (
            "the target entropy −1, whatever the number of action dimensions",
            "target_entropy = -action_dim  # H̄ = −|A|",
            "target_entropy = -1  # H̄ = −|A|",
        ),
        (
            "log σ kept below 2 only: below −20 it is kept",
            "log_std = self.log_std(hidden).clamp(-20, 2)",
            "log_std = self.log_std(hidden).clamp(max=2)",
        ),
        (
            "log σ kept above −20 only",
            "log_std = self.log_std(hidden).clamp(-20, 2)",
            "log_std = self.log_std(hidden).clamp(min=-20)",
        ),
        (
            "the actor's center (high − low) / 2, right only where the lower bound is 0",
            'self.register_buffer("action_center", (high + low) / 2)',
            'self.register_buffer("action_center", (high - low) / 2)',
        ),
        (
            "the actor's scale the first dimension's half range in every dimension",
            'self.register_buffer("action_scale", (high - low) / 2)',
            'self.register_buffer("action_scale", (high - low)[0] / 2)',
        ),
        (
            "the larger of the two target critics in the target",
            "next_q = torch.min(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
            "next_q = torch.max(*target_critic(b_next_obs, next_actions)) - alpha * next_log_prob",
        ),
        (
            "the actor climbs the larger of the two critics",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (alpha * log_prob - torch.max(*critic(b_obs, new_actions))).mean()",
        ),
        (
            "the actor's loss through the target critics",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (alpha * log_prob - torch.min(*target_critic(b_obs, new_actions))).mean()",
        ),
        (
            "uniform actions one step short of --learning-starts",
            "if global_step <= args.learning_starts:",
            "if global_step < args.learning_starts:",
        ),
        (
            "the oldest slot of the buffer never sampled",
            "idx = self.rng.integers(0, self.size, batch_size)",
            "idx = self.rng.integers(1, self.size, batch_size)",
        ),
        (
            "batches of one transition, whatever --batch-size says",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(args.batch_size)",
            "b_obs, b_actions, b_rewards, b_next_obs, b_terminations = rb.sample(1)",
        ),
        (
            "--alpha in the actor's loss, not the α learned",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (args.alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
        ),
        (
            "the critics' squared errors summed over the batch, not averaged",
            "critic_loss = F.mse_loss(q1_taken, td_target) + F.mse_loss(q2_taken, td_target)",
            'critic_loss = F.mse_loss(q1_taken, td_target, reduction="sum") + F.mse_loss(q2_taken, td_target, reduction="sum")',
        ),
        (
            "the actor's loss summed over the batch, not averaged",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).mean()",
            "actor_loss = (alpha * log_prob - torch.min(*critic(b_obs, new_actions))).sum()",
        ),
    ],
    "dqn_jax": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = rewards + args.gamma * (1 - terminations) * next_q",
            "td_target = rewards + args.gamma * next_q",
        ),
        (
            "γ² where γ belongs",
            "td_target = rewards + args.gamma * (1 - terminations) * next_q",
            "td_target = rewards + args.gamma**2 * (1 - terminations) * next_q",
        ),
        (
            "the online network where the target network belongs",
            "next_q = q_network(target_params, next_obs).max(axis=1)",
            "next_q = q_network(params, next_obs).max(axis=1)",
        ),
        (
            "the squared error where the Huber loss belongs",
            "losses = optax.huber_loss(q_taken, jax.lax.stop_gradient(td_target), delta=args.huber_delta)",
            "losses = optax.squared_error(q_taken, jax.lax.stop_gradient(td_target))",
        ),
        (
            "the Huber loss's κ DQN's 1, whatever --huber-delta says",
            "losses = optax.huber_loss(q_taken, jax.lax.stop_gradient(td_target), delta=args.huber_delta)",
            "losses = optax.huber_loss(q_taken, jax.lax.stop_gradient(td_target))",
        ),
        (
            "the Polyak average the wrong way round: θ⁻ ← (1 − τ) θ + τ θ⁻",
            "target_params = optax.incremental_update(params, target_params, args.tau)",
            "target_params = optax.incremental_update(target_params, params, args.tau)",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "transitions = (obs, actions, rewards, next_obs, terminations.astype(jnp.float32))",
            "transitions = (obs, actions, rewards, next_obs, (terminations | truncations).astype(jnp.float32))",
        ),
        (
            "the next episode's first observation stored as s': a transition across the reset",
            "transitions = (obs, actions, rewards, next_obs, terminations.astype(jnp.float32))",
            "transitions = (obs, actions, rewards, envs.state, terminations.astype(jnp.float32))",
        ),
        (
            "the buffer's first slot never written, and learned from as a transition of zeros",
            "idx = ((iteration - 1) * args.num_envs + jnp.arange(args.num_envs)) % args.buffer_size",
            "idx = (iteration * args.num_envs + jnp.arange(args.num_envs)) % args.buffer_size",
        ),
        (
            "ε-greedy acting on the target network",
            "actions = jnp.where(explore, random_actions, q_network(agent.params, obs).argmax(axis=1))",
            "actions = jnp.where(explore, random_actions, q_network(agent.target_params, obs).argmax(axis=1))",
        ),
        (
            "ε-greedy the wrong way round: explores with probability 1 − ε",
            "explore = jax.random.uniform(explore_key, (args.num_envs,)) < epsilon",
            "explore = jax.random.uniform(explore_key, (args.num_envs,)) > epsilon",
        ),
        (
            "ε rising from end_e to start_e",
            "epsilon = args.start_e + (args.end_e - args.start_e) * jnp.minimum(",
            "epsilon = args.end_e + (args.start_e - args.end_e) * jnp.minimum(",
        ),
        (
            "a learning agent's update thrown away, a solved agent's kept",
            "lambda new, old: jnp.where(learning, new, old), (params, target_params, opt_state), networks",
            "lambda new, old: jnp.where(learning, old, new), (params, target_params, opt_state), networks",
        ),
    ],
    "reinforce": [
        (
            "γ² where γ belongs in the return",
            "running = self.rewards[t] + gamma * np.where(self.ends[t], bootstrap, running)",
            "running = self.rewards[t] + gamma**2 * np.where(self.ends[t], bootstrap, running)",
        ),
        (
            "the return bootstrapped through a termination",
            "bootstrap = np.where(batch.truncated, last_values, 0.0)",
            "bootstrap = last_values",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "self.truncated[ended] = truncations[ended] & ~terminations[ended]",
            "self.truncated[ended] = False",
        ),
        (
            "a step both terminated and truncated stored as truncated: it bootstraps",
            "self.truncated[ended] = truncations[ended] & ~terminations[ended]",
            "self.truncated[ended] = truncations[ended]",
        ),
        (
            "a truncated return bootstrapped from the state it was cut in, not the one it led to",
            "self.last_obs[ended] = next_obs[ended]",
            "self.last_obs[ended] = obs[ended]",
        ),
        (
            "the steps of an env idling after its episode's end learned from",
            "steps = batch.alive[:length]",
            "steps = np.ones_like(batch.alive[:length])",
        ),
        (
            "the return where the return less the baseline belongs",
            "psi = b_returns - values.detach() if args.baseline else b_returns",
            "psi = b_returns",
        ),
        (
            "the sign of the policy gradient: descends the expected return",
            "policy_loss = -(policy(b_obs).log_prob(b_actions) * psi).mean()",
            "policy_loss = (policy(b_obs).log_prob(b_actions) * psi).mean()",
        ),
        (
            "ψ scaled without its mean taken off",
            "psi = (psi - psi.mean()) / (psi.std() + 1e-8)",
            "psi = psi / (psi.std() + 1e-8)",
        ),
        (
            "the baseline regressed on ψ, not on the return",
            "value_loss = ((values - b_returns) ** 2).mean()",
            "value_loss = ((values - psi) ** 2).mean()",
        ),
    ],
    "actor_critic": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "td_target = r + args.gamma * (1 - terminated) * critic(s_next)",
            "td_target = r + args.gamma * critic(s_next)",
        ),
        (
            "γ² where γ belongs",
            "td_target = r + args.gamma * (1 - terminated) * critic(s_next)",
            "td_target = r + args.gamma**2 * (1 - terminated) * critic(s_next)",
        ),
        (
            "a truncation taken for a termination: no bootstrap at a time limit",
            "terminated = torch.as_tensor(terminations, dtype=torch.float32, device=device)",
            "terminated = torch.as_tensor(terminations | truncations, dtype=torch.float32, device=device)",
        ),
        (
            "a step that only resets its env learned from",
            "real = torch.as_tensor(~autoreset, device=device)",
            "real = torch.as_tensor(np.ones_like(autoreset), device=device)",
        ),
        (
            "the step after a truncation, which only resets the env, learned from",
            "autoreset = terminations | truncations",
            "autoreset = terminations",
        ),
        (
            "the TD target not held constant: the critic's gradient flows into V(s') too",
            "            with torch.no_grad():\n                td_target",
            "            if True:\n                td_target",
        ),
        (
            "the sign of the policy gradient",
            "actor_loss = -(delta_hat * pi.log_prob(actions)[real]).mean() - args.ent_coef * entropy",
            "actor_loss = (delta_hat * pi.log_prob(actions)[real]).mean() - args.ent_coef * entropy",
        ),
        (
            "the entropy bonus with the wrong sign: a penalty",
            "actor_loss = -(delta_hat * pi.log_prob(actions)[real]).mean() - args.ent_coef * entropy",
            "actor_loss = -(delta_hat * pi.log_prob(actions)[real]).mean() + args.ent_coef * entropy",
        ),
        (
            "the entropy bonus taken in the steps that only reset an env too",
            "entropy = pi.entropy()[real].mean()",
            "entropy = pi.entropy().mean()",
        ),
        (
            "δ not scaled by its spread",
            "delta_hat = delta_hat / (delta_hat.std() + 1e-8)",
            "delta_hat = delta_hat",
        ),
    ],
    "a2c": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gamma * values[1:] - values[:-1]",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "self.terminated[t], self.ended[t] = terminations, terminations | truncations",
            "self.terminated[t], self.ended[t] = terminations | truncations, terminations | truncations",
        ),
        (
            "the advantage summed on across an episode's end into the next episode",
            "running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running",
            "running = delta[t] + gamma * gae_lambda * running",
        ),
        (
            "γ where γλ belongs",
            "running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running",
            "running = delta[t] + gamma * (1 - self.ended[t]) * running",
        ),
        (
            "a step that only resets its env stored as a transition",
            "self.real[t] = ~autoreset",
            "self.real[t] = True",
        ),
        (
            "no bootstrap where the rollout cuts an episode",
            "all_values = torch.cat([values, agent(b_obs[-1:])[1]]).cpu().numpy()",
            "all_values = torch.cat([values, torch.zeros_like(values[-1:])]).cpu().numpy()",
        ),
        (
            "the learning rate annealed one rollout ahead: the first update already below --learning-rate",
            "done = (iteration - 1) * batch_size / run.planned_steps",
            "done = iteration * batch_size / run.planned_steps",
        ),
        (
            "the sign of the policy gradient",
            "policy_loss = -(advantages * log_probs).mean()",
            "policy_loss = (advantages * log_probs).mean()",
        ),
        (
            "the critic's target not detached: it moves with V, and V learns nothing",
            "returns = advantages + values.detach()  # R_t, the critic's target",
            "returns = advantages + values  # R_t, the critic's target",
        ),
        (
            "the entropy bonus with the wrong sign: a penalty",
            "loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy",
            "loss = policy_loss + args.vf_coef * value_loss + args.ent_coef * entropy",
        ),
        (
            "the advantages not scaled by their spread",
            "advantages = advantages / (advantages.std() + 1e-8)",
            "advantages = advantages",
        ),
        (
            "the gradient clipping dropped",
            "            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)\n",
            "",
        ),
        (
            "continuous actions clipped before they are stored: learned from as clipped, not as drawn",
            "rollout.add(t, obs, actions, rewards, terminations, truncations, autoreset)",
            "rollout.add(t, obs, to_env(actions, action_space), rewards, terminations, truncations, autoreset)",
        ),
        (
            "the observation statistics updated in the evaluation too: they would drift with every check",
            "        out = self.policy_head(self.torso(self.normalize(x)))\n",
            "        self.obs_rms.update(x.cpu().numpy()) if self.obs_rms is not None else None\n"
            "        out = self.policy_head(self.torso(self.normalize(x)))\n",
        ),
        (
            "the observations' mean added, not taken off",
            "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()",
            "return ((x + self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()",
        ),
        (
            "the merged variance without the spread between the batch's mean and the old one",
            "spread = self.var * self.count + x.var(dim=0, unbiased=False) * n + delta**2 * self.count * n / total",
            "spread = self.var * self.count + x.var(dim=0, unbiased=False) * n",
        ),
        (
            "the discounted return not restarted at a new episode",
            "discounted = args.gamma * discounted * ~autoreset + rewards",
            "discounted = args.gamma * discounted + rewards",
        ),
        (
            "the rewards divided by the variance of the return, not its std",
            "rewards = np.clip(rewards / return_rms.std().item(), -10, 10)",
            "rewards = np.clip(rewards / return_rms.var.item(), -10, 10)",
        ),
        (
            "the learning rate annealed over the budget of the command, not of the run: a resume jumps",
            "done = (iteration - 1) * batch_size / run.planned_steps",
            "done = (iteration - 1) * batch_size / args.total_timesteps",
        ),
        (
            "the normalised rewards not clipped",
            "rewards = np.clip(rewards / return_rms.std().item(), -10, 10)",
            "rewards = rewards / return_rms.std().item()",
        ),
        (
            "λ where γ belongs in the TD error",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gae_lambda * (1 - self.terminated) * values[1:] - values[:-1]",
        ),
        (
            "the annealed learning rate not floored at 0: past the budget the run began with it turns negative",
            'optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)',
            'optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - done)',
        ),
        (
            "γ and λ swapped in the call of GAE",
            "rollout.advantages(all_values, args.gamma, args.gae_lambda), device=device",
            "rollout.advantages(all_values, args.gae_lambda, args.gamma), device=device",
        ),
        *NORMALISATION_CLIPS,
        *GAUSSIAN_POLICY,
    ],
    "a3c": [
        (
            "the termination mask dropped: bootstraps through the end of the episode",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gamma * values[1:] - values[:-1]",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "self.terminated[t], self.ended[t] = terminations, terminations | truncations",
            "self.terminated[t], self.ended[t] = terminations | truncations, terminations | truncations",
        ),
        (
            "the advantage summed on across an episode's end into the next episode",
            "running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running",
            "running = delta[t] + gamma * gae_lambda * running",
        ),
        (
            "a step that only resets its env stored as a transition",
            "self.real[t] = ~autoreset",
            "self.real[t] = True",
        ),
        (
            "the sign of the policy gradient",
            "policy_loss = -(advantages * log_probs).mean()",
            "policy_loss = (advantages * log_probs).mean()",
        ),
        (
            "the critic's target not detached: it moves with V, and V learns nothing",
            "returns = advantages + values.detach()",
            "returns = advantages + values",
        ),
        (
            "the entropy bonus with the wrong sign: a penalty",
            "loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy",
            "loss = policy_loss + args.vf_coef * value_loss + args.ent_coef * entropy",
        ),
        (
            "the gradient clipping dropped",
            "        nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)\n",
            "",
        ),
        (
            "continuous actions clipped before they are stored: learned from as clipped, not as drawn",
            "rollout.add(t, obs, actions, rewards, terminations, truncations, autoreset)",
            "rollout.add(t, obs, to_env(actions, action_space), rewards, terminations, truncations, autoreset)",
        ),
        (
            "the local copy never refreshed from the shared network: θ' ← θ dropped",
            "        agent.load_state_dict(shared_agent.state_dict())  # θ' ← θ\n",
            "",
        ),
        (
            "the worker's gradient never reaching the shared network",
            "shared_param.grad = param.grad",
            "pass",
        ),
        (
            "λ where γ belongs in the TD error",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gae_lambda * (1 - self.terminated) * values[1:] - values[:-1]",
        ),
        (
            "continuous actions sent to the env unclipped",
            "return np.clip(actions, space.low, space.high) if isinstance(space, gym.spaces.Box) else actions",
            "return actions",
        ),
        (
            "γ and λ swapped in the call of GAE",
            "advantages = torch.as_tensor(rollout.advantages(all_values, args.gamma, args.gae_lambda))",
            "advantages = torch.as_tensor(rollout.advantages(all_values, args.gae_lambda, args.gamma))",
        ),
        (
            "γ where γλ belongs",
            "running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running",
            "running = delta[t] + gamma * (1 - self.ended[t]) * running",
        ),
        (
            "no bootstrap where the rollout cuts an episode",
            "all_values = torch.cat([values, agent(b_obs[-1:])[1]]).numpy()",
            "all_values = torch.cat([values, torch.zeros_like(values[-1:])]).numpy()",
        ),
        (
            "the advantages not scaled by their spread",
            "advantages = advantages / (advantages.std() + 1e-8)",
            "advantages = advantages",
        ),
        (
            "the worker's gradients of earlier rollouts left to add up",
            "        agent.zero_grad()\n",
            "",
        ),
        *GAUSSIAN_POLICY,
    ],
    "pqn": [
        (
            "the termination mask dropped: the return bootstraps through the end of the episode",
            "running = self.rewards[t] + gamma * (1 - self.terminated[t]) * bootstrap",
            "running = self.rewards[t] + gamma * bootstrap",
        ),
        (
            "the λ-sum carried across an episode's end into the next episode",
            "bootstrap = next_q + q_lambda * (1 - self.ended[t]) * (running - next_q)",
            "bootstrap = next_q + q_lambda * (running - next_q)",
        ),
        (
            "λ and 1 − λ swapped: the return weighs max Q where it should weigh the return that follows",
            "bootstrap = next_q + q_lambda * (1 - self.ended[t]) * (running - next_q)",
            "bootstrap = running + q_lambda * (1 - self.ended[t]) * (next_q - running)",
        ),
        (
            "γ² where γ belongs",
            "running = self.rewards[t] + gamma * (1 - self.terminated[t]) * bootstrap",
            "running = self.rewards[t] + gamma**2 * (1 - self.terminated[t]) * bootstrap",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "self.terminated[t], self.ended[t] = terminations, terminations | truncations",
            "self.terminated[t], self.ended[t] = terminations | truncations, terminations | truncations",
        ),
        (
            "a step that only resets its env learned from",
            "self.real[t] = ~autoreset",
            "self.real[t] = True",
        ),
        (
            "no bootstrap where the rollout cuts an episode",
            "running = self.max_q[-1]",
            "running = np.zeros_like(self.max_q[-1])",
        ),
        (
            "the rollout's last states' values never computed: the returns bootstrap from the last rollout's",
            "rollout.max_q[args.num_steps] = last_q.max(dim=1).values.cpu().numpy()",
            "pass",
        ),
        (
            "max Q of the state acted from stored where the next state's belongs",
            "self.obs[t], self.max_q[t], self.actions[t], self.rewards[t] = obs, max_q, actions, rewards",
            "self.obs[t], self.max_q[t + 1], self.actions[t], self.rewards[t] = obs, max_q, actions, rewards",
        ),
        (
            "the first hidden layer not normalised",
            "nn.Linear(obs_dim, hidden_size),\n            nn.LayerNorm(hidden_size),\n",
            "nn.Linear(obs_dim, hidden_size),\n",
        ),
        (
            "the second hidden layer normalised after its ReLU, not before",
            "nn.Linear(hidden_size, hidden_size),\n            nn.LayerNorm(hidden_size),\n            nn.ReLU(),\n",
            "nn.Linear(hidden_size, hidden_size),\n            nn.ReLU(),\n            nn.LayerNorm(hidden_size),\n",
        ),
        (
            "the squared error without its ½",
            "loss = 0.5 * ((q_taken - b_returns[mb]) ** 2).mean()",
            "loss = ((q_taken - b_returns[mb]) ** 2).mean()",
        ),
        (
            "the gradient not clipped",
            "nn.utils.clip_grad_norm_(q_network.parameters(), args.max_grad_norm)",
            "pass",
        ),
        (
            "the rewards learned unscaled",
            "rewards = rewards * args.reward_scale",
            "rewards = rewards",
        ),
        (
            "ε-greedy the wrong way round: explores with probability 1 − ε",
            "explore = np.random.random(args.num_envs) < epsilon",
            "explore = np.random.random(args.num_envs) > epsilon",
        ),
        (
            "the learning rate annealed one rollout ahead: the first update already below --learning-rate",
            "done = (iteration - 1) * batch_size / run.planned_steps",
            "done = iteration * batch_size / run.planned_steps",
        ),
        (
            "one pass over the rollout whatever --update-epochs",
            "for _ in range(args.update_epochs):",
            "for _ in range(1):",
        ),
        (
            "the worst action taken where the greedy one belongs",
            "actions = np.where(explore, envs.action_space.sample(), q.argmax(dim=1).cpu().numpy())",
            "actions = np.where(explore, envs.action_space.sample(), q.argmin(dim=1).cpu().numpy())",
        ),
        (
            "one draw of ε-greedy for every env",
            "explore = np.random.random(args.num_envs) < epsilon",
            "explore = np.full(args.num_envs, np.random.random(1)[0] < epsilon)",
        ),
        (
            "the annealed learning rate not held at 0 past the budget: it turns negative on a longer resume",
            'optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)',
            'optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - done)',
        ),
        (
            "the learning rate annealed whatever --anneal-lr says",
            "if args.anneal_lr:  # over the budget the run began with, as every schedule: 0 past it",
            "if True:  # over the budget the run began with, as every schedule: 0 past it",
        ),
        (
            "the LayerNorm without its learned gain and bias",
            "nn.Linear(obs_dim, hidden_size),\n            nn.LayerNorm(hidden_size),\n",
            "nn.Linear(obs_dim, hidden_size),\n            nn.LayerNorm(hidden_size, elementwise_affine=False),\n",
        ),
        (
            "ε falling on past end_e after the exploration steps",
            "epsilon = args.start_e + (args.end_e - args.start_e) * min(1.0, global_step / exploration_steps)",
            "epsilon = args.start_e + (args.end_e - args.start_e) * (global_step / exploration_steps)",
        ),
        (
            "the step that only resets an env learned from (the flat index)",
            "real = np.flatnonzero(rollout.real)  # the transitions, by index in the rollout's steps × envs",
            "real = np.arange(rollout.real.size)  # the transitions, by index in the rollout's steps × envs",
        ),
    ],
    "ppo": [
        (
            "the policy's objective not clipped",
            "policy_loss = -torch.min(ratio * mb_advantages, clipped_ratio * mb_advantages).mean()",
            "policy_loss = -(ratio * mb_advantages).mean()",
        ),
        (
            "the max of the two surrogates, not the min: an optimistic bound",
            "policy_loss = -torch.min(ratio * mb_advantages, clipped_ratio * mb_advantages).mean()",
            "policy_loss = -torch.max(ratio * mb_advantages, clipped_ratio * mb_advantages).mean()",
        ),
        (
            "the ratio taken against the policy being learned, not π_old: always 1",
            "log_ratio = pi.log_prob(b_actions[mb]) - b_log_probs_old[mb]",
            "log_ratio = pi.log_prob(b_actions[mb]) - pi.log_prob(b_actions[mb]).detach()",
        ),
        (
            "the value loss not clipped",
            "value_loss = torch.max(value_loss, (b_values_old[mb] + moved - b_returns[mb]) ** 2)",
            "value_loss = value_loss",
        ),
        (
            "the advantages not normalised within the minibatch",
            "mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)",
            "mb_advantages = mb_advantages",
        ),
        (
            "the critic's target from the values being learned, not V_old",
            "returns = advantages + values_old  # R_t, the critic's target",
            "returns = advantages + agent(b_obs[:-1])[1]  # R_t, the critic's target",
        ),
        (
            "the entropy bonus with the wrong sign: a penalty",
            "loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy",
            "loss = policy_loss + args.vf_coef * value_loss + args.ent_coef * entropy",
        ),
        (
            "the step that only resets an env learned from",
            "real = np.flatnonzero(rollout.real)  # the transitions, by index in the rollout's steps × envs",
            "real = np.arange(rollout.real.size)  # the transitions, by index in the rollout's steps × envs",
        ),
        (
            "the passes never stopped by --target-kl",
            "if run.diverged or 0 < args.target_kl < approx_kl:",
            "if run.diverged:",
        ),
        (
            "one pass over the rollout whatever --update-epochs",
            "for _ in range(args.update_epochs):",
            "for _ in range(1):",
        ),
        (
            "the termination mask dropped from GAE",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gamma * values[1:] - values[:-1]",
        ),
        (
            "a truncation not bootstrapped: cut as a termination",
            "self.terminated[t], self.ended[t] = terminations, terminations | truncations",
            "self.terminated[t], self.ended[t] = terminations | truncations, terminations | truncations",
        ),
        (
            "GAE's sum without λ",
            "running = delta[t] + gamma * gae_lambda * (1 - self.ended[t]) * running",
            "running = delta[t] + gamma * (1 - self.ended[t]) * running",
        ),
        (
            "the normalised rewards not clipped",
            "rewards = np.clip(rewards / return_rms.std().item(), -10, 10)",
            "rewards = rewards / return_rms.std().item()",
        ),
        (
            "the gradient not clipped",
            "nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)",
            "pass",
        ),
        (
            "the learning rate not annealed",
            'optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)',
            'optimizer.param_groups[0]["lr"] = args.learning_rate',
        ),
        (
            "the normalised observations not clipped",
            "return ((x - self.obs_rms.mean) / self.obs_rms.std()).clamp(-10, 10).float()",
            "return ((x - self.obs_rms.mean) / self.obs_rms.std()).float()",
        ),
        (
            "as many minibatches as asked, empty ones included",
            "num_minibatches = min(args.num_minibatches, len(real))",
            "num_minibatches = args.num_minibatches",
        ),
        (
            "no bootstrap where the rollout cuts an episode",
            "all_values = torch.cat([values_old, agent(b_obs[-1:])[1]]).cpu().numpy()",
            "all_values = torch.cat([values_old, torch.zeros_like(values_old[-1:])]).cpu().numpy()",
        ),
        (
            "the learning rate annealed one rollout ahead: the first update already below --learning-rate",
            "done = (iteration - 1) * batch_size / run.planned_steps",
            "done = iteration * batch_size / run.planned_steps",
        ),
        (
            "continuous actions clipped before they are stored: learned from as clipped, not as drawn",
            "rollout.add(t, obs, actions, rewards, terminations, truncations, autoreset)",
            "rollout.add(t, obs, to_env(actions, action_space), rewards, terminations, truncations, autoreset)",
        ),
        (
            "the observation statistics updated in the evaluation too: they would drift with every check",
            "        out = self.actor(self.normalize(x))\n",
            "        self.obs_rms.update(x.cpu().numpy()) if self.obs_rms is not None else None\n"
            "        out = self.actor(self.normalize(x))\n",
        ),
        (
            "the observations' statistics never updated: normalising does nothing",
            "agent.obs_rms.update(obs[~autoreset])",
            "pass",
        ),
        (
            "the observations' statistics updated with the reset steps' last observations too",
            "agent.obs_rms.update(obs[~autoreset])",
            "agent.obs_rms.update(obs)",
        ),
        (
            "λ where γ belongs in the TD error",
            "delta = self.rewards + gamma * (1 - self.terminated) * values[1:] - values[:-1]",
            "delta = self.rewards + gae_lambda * (1 - self.terminated) * values[1:] - values[:-1]",
        ),
        (
            "the annealed learning rate not floored at 0: past the budget the run began with it turns negative",
            'optimizer.param_groups[0]["lr"] = args.learning_rate * max(0.0, 1 - done)',
            'optimizer.param_groups[0]["lr"] = args.learning_rate * (1 - done)',
        ),
        (
            "γ and λ swapped in the call of GAE",
            "rollout.advantages(all_values, args.gamma, args.gae_lambda), device=device",
            "rollout.advantages(all_values, args.gae_lambda, args.gamma), device=device",
        ),
        (
            "the ratio's clip without its lower side: Â < 0 with r < 1 − ε still pushes r down",
            "clipped_ratio = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)",
            "clipped_ratio = ratio.clamp(max=1 + args.clip_coef)",
        ),
        (
            "the value's clip without its lower side: V moving down past ε is not clipped",
            "moved = (values - b_values_old[mb]).clamp(-args.clip_coef, args.clip_coef)",
            "moved = (values - b_values_old[mb]).clamp(max=args.clip_coef)",
        ),
        (
            "the clipped value term alone, not the max of the two: V moved past its target by more is not learned",
            "value_loss = torch.max(value_loss, (b_values_old[mb] + moved - b_returns[mb]) ** 2)",
            "value_loss = (b_values_old[mb] + moved - b_returns[mb]) ** 2",
        ),
        (
            "the advantages normalised over the whole rollout, not within the minibatch",
            "mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)",
            "mb_advantages = (mb_advantages - b_advantages.mean()) / (b_advantages.std() + 1e-8)",
        ),
        (
            "the advantages centred on the whole rollout's mean, not the minibatch's",
            "mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)",
            "mb_advantages = (mb_advantages - b_advantages.mean()) / (mb_advantages.std() + 1e-8)",
        ),
        (
            "the rollout's actions flattened whole: a vector action's numbers taken as actions",
            "b_obs, b_actions = b_obs[:-1].flatten(0, 1)[real], b_actions.flatten(0, 1)[real]",
            "b_obs, b_actions = b_obs[:-1].flatten(0, 1)[real], b_actions.flatten()[real]",
        ),
        (
            "the hidden layers' orthogonal gain 1, not √2",
            "def layer_init(layer: nn.Linear, gain: float = 2**0.5) -> nn.Linear:",
            "def layer_init(layer: nn.Linear, gain: float = 1.0) -> nn.Linear:",
        ),
        (
            "orthogonal weights of gain 1 whatever the layer's gain",
            "nn.init.orthogonal_(layer.weight, gain)",
            "nn.init.orthogonal_(layer.weight)",
        ),
        (
            "the policy's last layer of gain 1, not 0.01: the first policy far from uniform",
            "self.actor = mlp(n_out, 0.01)",
            "self.actor = mlp(n_out, 1.0)",
        ),
        (
            "the value's last layer of gain 0.01, not 1",
            "self.critic = mlp(1, 1.0)",
            "self.critic = mlp(1, 0.01)",
        ),
        (
            "the last layers' gains ignored: √2 there too",
            "layer_init(nn.Linear(hidden_size, n_out), last_gain),",
            "layer_init(nn.Linear(hidden_size, n_out)),",
        ),
        (
            "the biases left as nn.Linear draws them, not 0",
            "    nn.init.zeros_(layer.bias)\n",
            "",
        ),
        (
            "ReLU where the first hidden layer's tanh belongs",
            "layer_init(nn.Linear(obs_dim, hidden_size)),\n                nn.Tanh(),",
            "layer_init(nn.Linear(obs_dim, hidden_size)),\n                nn.ReLU(),",
        ),
        (
            "Adam's ε PyTorch's 1e-8, not the reference implementations' 1e-5",
            "optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5, fused=True)",
            "optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, fused=True)",
        ),
        *NORMALISATION_CLIPS,
        *GAUSSIAN_POLICY,
        (
            "the ratio's clip without its upper side: Â > 0 with r > 1 + ε still pushes r up",
            "clipped_ratio = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)",
            "clipped_ratio = ratio.clamp(min=1 - args.clip_coef)",
        ),
        (
            "the ratio clipped at the default ε = 0.2, whatever --clip-coef says",
            "clipped_ratio = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)",
            "clipped_ratio = ratio.clamp(0.8, 1.2)",
        ),
        (
            "the value's clip without its upper side: V moving up past ε is not clipped",
            "moved = (values - b_values_old[mb]).clamp(-args.clip_coef, args.clip_coef)",
            "moved = (values - b_values_old[mb]).clamp(min=-args.clip_coef)",
        ),
        (
            "the value's move clipped at the default ε = 0.2, whatever --clip-coef says",
            "moved = (values - b_values_old[mb]).clamp(-args.clip_coef, args.clip_coef)",
            "moved = (values - b_values_old[mb]).clamp(-0.2, 0.2)",
        ),
        (
            "the value loss clipped whatever --no-clip-vloss says",
            "if args.clip_vloss:",
            "if True:",
        ),
    ],
    # the lines that make dqn_atari.py dqn.py on pixels; its update is dqn.py's, broken there
    "dqn_atari": [
        *PIXEL_SCREENS,
        (
            "the rewards learned from unclipped",
            "rb.add(next_obs, actions, np.sign(rewards), ends, autoreset)",
            "rb.add(next_obs, actions, rewards, ends, autoreset)",
        ),
        (
            "a lost life not terminal, whatever --life-loss-ends-bootstrap says",
            "ends = terminations | (life_lost & args.life_loss_ends_bootstrap)",
            "ends = terminations",
        ),
        (
            "a truncation stored as a termination: no bootstrap at a time limit",
            "ends = terminations | (life_lost & args.life_loss_ends_bootstrap)",
            "ends = terminations | truncations | (life_lost & args.life_loss_ends_bootstrap)",
        ),
        (
            "the step that only resets an env stored as a transition",
            "self.terminations[self.pos], self.stepped[self.pos] = terminations, ~reset",
            "self.terminations[self.pos], self.stepped[self.pos] = terminations, np.ones_like(reset)",
        ),
        (
            "a stack that crosses into the episode before",
            "stack.insert(0, np.where(self.first[stack[0], envs], stack[0], (stack[0] - 1) % self.capacity))",
            "stack.insert(0, (stack[0] - 1) % self.capacity)",
        ),
        (
            "a stack whose frames reach past the oldest slot still drawn",
            "todo = todo[~(self.stepped[slots[todo], envs[todo]] & (age + back < self.slots))]",
            "todo = todo[~(self.stepped[slots[todo], envs[todo]] & (age < self.slots))]",
        ),
        (
            "the next observation the same slot's, not the next one's",
            "next_slots = (slots + 1) % self.capacity",
            "next_slots = slots",
        ),
        (
            "the target network copied every update, not every --target-network-frequency steps",
            "if rb.size > args.learning_starts and iteration % args.target_network_frequency == 0:",
            "if rb.size > args.learning_starts:",
        ),
        (
            "the target network copied before learning starts too",
            "if rb.size > args.learning_starts and iteration % args.target_network_frequency == 0:",
            "if iteration % args.target_network_frequency == 0:",
        ),
        (
            "the termination mask dropped: bootstraps through the end of the game",
            "td_target = b_rewards + args.gamma * (1 - b_terminations) * next_q",
            "td_target = b_rewards + args.gamma * next_q",
        ),
        (
            "the Huber loss's κ 10 (dqn.py's), whatever --huber-delta says",
            "loss = F.huber_loss(q_taken, td_target, delta=args.huber_delta)",
            "loss = F.huber_loss(q_taken, td_target, delta=10.0)",
        ),
        (
            "pixels not scaled to [0, 1]",
            "return self.network(x.float() / self.pixel_max)",
            "return self.network(x.float())",
        ),
        (
            "the Nature network's first convolution of stride 2, not 4",
            "nn.Conv2d(channels, 32, 8, stride=4),",
            "nn.Conv2d(channels, 32, 8, stride=2),",
        ),
        (
            "MinAtar's screens channels last",
            "return np.moveaxis(observation, -1, 0)",
            "return observation",
        ),
        (
            "the emulator's own frame skip under the wrapper's: 16 frames a step",
            "env = gym.make(env_id, frameskip=1, render_mode=render_mode)  # AtariPreprocessing skips the frames",
            "env = gym.make(env_id, render_mode=render_mode)  # AtariPreprocessing skips the frames",
        ),
        (
            "no no-op starts",
            "env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)",
            "env = gym.wrappers.AtariPreprocessing(env, noop_max=0, frame_skip=4, screen_size=84)",
        ),
        (
            "a missing game package not refused: gymnasium's own error",
            'GAMES_MISSING.append(("ALE/", "ale-py"))',
            "pass",
        ),
    ],
    # the lines that make ppo_atari.py ppo.py on pixels; its update is ppo.py's, broken there
    "ppo_atari": [
        *PIXEL_SCREENS,
        (
            "V_old put back as (envs, steps), transposed: each step's value another env's",
            "values_old = values_old.view_as(b_actions)",
            "values_old = values_old.view(args.num_envs, args.num_steps).T",
        ),
        (
            "the rewards learned from unclipped",
            "rollout.add(t, obs, actions, np.sign(rewards), ends, truncations, autoreset)",
            "rollout.add(t, obs, actions, rewards, ends, truncations, autoreset)",
        ),
        (
            "a lost life not terminal, whatever --life-loss-ends-bootstrap says",
            "ends = terminations | (life_lost & args.life_loss_ends_bootstrap)",
            "ends = terminations",
        ),
        (
            "the advantage's sum carried across a lost life",
            "self.terminated[t], self.ended[t] = terminations, terminations | truncations",
            "self.terminated[t], self.ended[t] = terminations, truncations",
        ),
        (
            "pixels not scaled to [0, 1]",
            "hidden = self.torso(x.float() / self.pixel_max)",
            "hidden = self.torso(x.float())",
        ),
        (
            "the policy's head initialised with gain √2, not 0.01",
            "self.actor = layer_init(nn.Linear(hidden, n_actions), 0.01)  # the logits: near uniform at first",
            "self.actor = layer_init(nn.Linear(hidden, n_actions))  # the logits: near uniform at first",
        ),
        (
            "MinAtar's screens channels last",
            "return np.moveaxis(observation, -1, 0)",
            "return observation",
        ),
        (
            "no no-op starts",
            "env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)",
            "env = gym.wrappers.AtariPreprocessing(env, noop_max=0, frame_skip=4, screen_size=84)",
        ),
    ],
    # the lines that make pqn_atari.py pqn.py on pixels; its update and loop are pqn.py's, whose tests run on both
    "pqn_atari": [
        *PIXEL_SCREENS,
        (
            "the rewards learned from unclipped",
            "rollout.add(t, obs, max_q, actions, np.sign(rewards), ends, truncations, autoreset)",
            "rollout.add(t, obs, max_q, actions, rewards, ends, truncations, autoreset)",
        ),
        (
            "a lost life not terminal, whatever --life-loss-ends-bootstrap says",
            "ends = terminations | (life_lost & args.life_loss_ends_bootstrap)",
            "ends = terminations",
        ),
        (
            "the termination mask dropped: the return bootstraps through the end of the game",
            "running = self.rewards[t] + gamma * (1 - self.terminated[t]) * bootstrap",
            "running = self.rewards[t] + gamma * bootstrap",
        ),
        (
            "a convolution's LayerNorm over the whole image, not each position's channels",
            "return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)",
            "return nn.functional.layer_norm(x, x.shape[1:]) * self.weight[:, None, None] + self.bias[:, None, None]",
        ),
        (
            "no LayerNorm in the dense hidden layer",
            "*torso, nn.Linear(features, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, n_actions)",
            "*torso, nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)",
        ),
        (
            "the output layer initialised as a hidden one (variance 2 / fan_in)",
            "scale = 1.0 if layer is self.network[-1] else 2.0",
            "scale = 2.0",
        ),
        (
            "the weights drawn from a normal not cut at two standard deviations",
            "nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)",
            "nn.init.normal_(layer.weight, std=std)",
        ),
        (
            "the cut normal not widened: its variance 0.77 of He's",
            "std = (scale / layer.weight[0].numel()) ** 0.5 / 0.87962566103423978",
            "std = (scale / layer.weight[0].numel()) ** 0.5",
        ),
        (
            "the evaluation's discounted return of the game's rewards, not Q's clipped ones",
            "discounted_return += discount * float(np.sign(rewards[0]))",
            "discounted_return += discount * float(rewards[0])",
        ),
        (
            "the evaluation's discounted return carried past a lost life",
            "discount = 0.0  # what Q estimates ends here",
            "pass  # what Q estimates ends here",
        ),
        (
            "PyTorch's default biases, not 0",
            "nn.init.zeros_(layer.bias)",
            "pass",
        ),
        (
            "pixels not scaled to [0, 1]",
            "return self.network(x.float() / self.pixel_max)",
            "return self.network(x.float())",
        ),
        (
            "the evaluation's ε ignored: greedy evaluations whatever --eval-epsilon says",
            "if rng.random() < epsilon:",
            "if rng.random() < 0.0:",
        ),
        (
            "MinAtar's screens channels last",
            "return np.moveaxis(observation, -1, 0)",
            "return observation",
        ),
    ],
}

# Changes tried and left out, because they make no difference to what is learned: (file, change, why).
NOT_BUGS = [
    (
        "pqn",
        "ended_t = truncated_t alone, a termination left out of it (and the same in pqn_atari.py, where a lost "
        "life is a termination)",
        "a terminated step's return is r_t alone: (1 − terminated_t) multiplies the bracket that (1 − ended_t) is "
        "in, so ended_t only matters where terminated_t is 0, and there the two agree",
    ),
    (
        "dqn",
        "F.huber_loss(td_target, q_taken, ...), the arguments swapped",
        "the Huber loss is symmetric, and td_target carries no gradient: the same loss and gradient",
    ),
    (
        "reinforce",
        "psi.std() without the + 1e-8",
        "the same ψ̂ to a part in 1e8 wherever ψ has any spread; only a batch whose ψ are all equal tells them "
        "apart (0 / 1e-8 against 0 / 0), and no real batch is one",
    ),
    (
        "a2c",
        "advantages.std() without the + 1e-8 (and the same in a3c.py)",
        "the same Â to a part in 1e8 wherever the advantages have any spread; only a rollout whose advantages "
        "are all equal tells them apart",
    ),
    (
        "a2c",
        "(returns - values) ** 2 for (values - returns) ** 2 in the value loss (and the same in a3c.py)",
        "the same square, the same loss and gradient",
    ),
    (
        "ddpg",
        "the TD target computed without torch.no_grad()",
        "the target depends on the target networks alone, whose gradients no optimizer reads (Polyak moves "
        "them): the critic's gradient is the same; only memory is spent on a graph",
    ),
    (
        "ddpg",
        "F.mse_loss(td_target, q_taken), the arguments swapped",
        "the squared error is symmetric: the same loss and gradient",
    ),
    (
        "td3",
        "the TD target computed without torch.no_grad() (and the same in sac.py)",
        "as in ddpg.py: the target networks' gradients are read by no optimizer; only memory is spent",
    ),
    (
        "sac",
        "alpha = temperature() without .detach()",
        "the gradient that log α takes from the actor's loss is cleared by alpha_optimizer.zero_grad() "
        "before α's own loss is backpropagated: the same updates",
    ),
    (
        "ddpg",
        "the critic's value .squeeze() for .squeeze(1) (and the same in td3.py and sac.py)",
        "the same values for a batch of two or more; for a batch of one, a value of shape () against a target "
        "of shape (1,): the same squared error and gradient",
    ),
    (
        "ddpg",
        "critic.load_state_dict(target_critic.state_dict()), the copy made the other way round (and the same "
        "for the actors, and in td3.py and sac.py)",
        "the online and target networks still start equal, from the target's random initialisation instead "
        "of the online one's, drawn from the same distribution",
    ),
    (
        "ddpg",
        "self.pos = self.pos + len(actions), the buffer's position not wrapped (and the same in td3.py and "
        "sac.py)",
        "the slots are taken modulo the buffer's size where they are written, (pos + i) % buffer_size: the "
        "same slots",
    ),
    (
        "td3",
        "torch.cat([a, x], dim=1), the action before the observation in the critics' input (and the same in "
        "ddpg.py and sac.py)",
        "a permutation of the first layer's inputs, whose weights are all initialised alike: the same "
        "networks, from the same distribution",
    ),
    (
        "td3",
        "q2_taken, q1_taken = critic(b_obs, b_actions), the critics' values swapped (and the same in sac.py)",
        "the critics' loss is symmetric in the two: the same loss and gradients; only losses/q_values logs "
        "the second critic's mean instead of the first's",
    ),
    (
        "dqn_jax",
        "the TD target without jax.lax.stop_gradient",
        "the target depends on θ⁻ alone, and the gradient is taken with respect to θ: the same gradient",
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
