import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from './config';

describe('loadConfig: SCHEDSTACK_DISPATCH_THREADS', () => {
  it('sends from up to two threads of their own unless told otherwise; 0 is the main thread', () => {
    expect(loadConfig('local', {}).sendingThreads).toBe(Math.min(2, availableParallelism()));
    expect(loadConfig('local', { SCHEDSTACK_DISPATCH_THREADS: '3' }).sendingThreads).toBe(3);
    expect(loadConfig('local', { SCHEDSTACK_DISPATCH_THREADS: '0' }).sendingThreads).toBe(0);
  });

  it('refuses anything but a small whole number, naming the setting', () => {
    expect(() => loadConfig('local', { SCHEDSTACK_DISPATCH_THREADS: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig('local', { SCHEDSTACK_DISPATCH_THREADS: '-1' })).toThrow("SCHEDSTACK_DISPATCH_THREADS must be an integer from 0 to 64, got '-1'");
  });
});
