/** A bad input, named, with the rule it broke; nothing is connected before every input is checked. */
export class InputError extends Error {
  constructor(input: string, problem: string) {
    super(`input ${input}: ${problem}`);
    this.name = 'InputError';
  }
}
