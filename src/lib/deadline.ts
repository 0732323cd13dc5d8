export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/**
 * Waits for `work` at most `ms`. The work itself goes on (a database call cannot be taken
 * back); `onLate` hears how it ended, so nothing finishes unobserved.
 */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onLate?: (outcome: { value?: T; error?: unknown }) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(new DeadlineExceeded(`no answer within ${ms} ms`));
    }, ms);
  });
  work.then(
    (value) => late && onLate?.({ value }),
    (error: unknown) => late && onLate?.({ error }),
  );
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
