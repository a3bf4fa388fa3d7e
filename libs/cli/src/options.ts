// Numeric options, checked when commander parses them: a bad value is a
// usage error (exit 2, with the option named) before any file is read or
// any call is made.
import { InvalidArgumentError } from 'commander';

/** A whole number between min and max, e.g. --limit, --days. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A number of seconds, above 0 and at most max (fractions allowed), e.g. --timeout. */
export function secondsUpTo(max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+(\.\d+)?$/.test(value.trim())) throw new InvalidArgumentError(`expected a number of seconds above 0, at most ${max}`);
    const n = Number(value);
    if (!(n > 0) || n > max) throw new InvalidArgumentError(`expected a number of seconds above 0, at most ${max}`);
    return n;
  };
}
