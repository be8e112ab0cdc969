package pool

// BehindCommits is how many background commits run at once.
const BehindCommits = behindCommits
