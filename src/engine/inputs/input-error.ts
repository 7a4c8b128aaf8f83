/** One input and the rule it broke. */
export interface InputProblem {
  readonly input: string;
  readonly problem: string;
}

const line = ({ input, problem }: InputProblem): string => `input ${input}: ${problem}`;

/** The longest problem text kept whole: messages quote the bad value, and a 50 MB value must not make a 100 MB message. */
export const PROBLEM_TEXT_LIMIT = 600;

/** A message cut in the middle past PROBLEM_TEXT_LIMIT, saying how much was left out; its start and end (the rule) stay. */
export function boundedText(text: string, limit = PROBLEM_TEXT_LIMIT): string {
  if (text.length <= limit) return text;
  const head = Math.floor(limit * 0.6);
  const tail = limit - head;
  return `${text.slice(0, head)}... (${text.length - head - tail} characters left out) ...${text.slice(-tail)}`;
}

/**
 * Bad inputs, named, each with the rule it broke; nothing is connected before
 * every input is checked. The validators throw one for their input;
 * parseInputs throws one for every bad input it found (see `all`).
 */
export class InputError extends Error {
  /** Every bad input this error stands for, in the order they were found. */
  readonly problems: readonly InputProblem[];

  constructor(input: string, problem: string, alsoWrong: readonly InputProblem[] = []) {
    const problems = [{ input, problem }, ...alsoWrong].map((entry) => ({ input: boundedText(entry.input), problem: boundedText(entry.problem) }));
    super(problems.length === 1 ? line(problems[0]!) : `${problems.length} inputs are wrong: ${problems.map(line).join('; ')}`);
    this.name = 'InputError';
    this.problems = problems;
  }

  /** The first input named. */
  get input(): string {
    return this.problems[0]!.input;
  }

  /** One error for several; with one bad input it is that input's error, unchanged. */
  static all(errors: readonly InputError[]): InputError {
    if (errors.length === 1) return errors[0]!;
    const [first, ...rest] = errors.flatMap((error) => error.problems);
    return new InputError(first!.input, first!.problem, rest);
  }
}
