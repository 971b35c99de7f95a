// The slice of Probot's Octokit the app uses, so helpers can be typed without
// depending on Probot's generics.
import type { ProbotOctokit } from 'probot';

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

export interface RepoRef {
  owner: string;
  repo: string;
}
