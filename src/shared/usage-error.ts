// A command line used wrongly (a bad flag value, a missing argument): the command says which and
// exits with status 2. Shared by `certdesk` and the packaged key assistant, which has no CA code.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
