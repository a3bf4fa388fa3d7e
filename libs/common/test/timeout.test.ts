import { withTimeout } from '@keywarden/common';

describe('withTimeout', () => {
  it('settles as the promise does when it is in time', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('own failure')), 1000, () => new Error('late'))).rejects.toThrow('own failure');
  });

  it('rejects with the given error when the promise is not settled in time', async () => {
    const never = new Promise<number>(() => undefined);
    const t0 = Date.now();
    await expect(withTimeout(never, 50, () => new RangeError('took too long'))).rejects.toThrow(RangeError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });
});
