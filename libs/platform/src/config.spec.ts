import { ConfigError, loadConfig } from './config';

describe('loadConfig: SCHEDSTACK_DISPATCH_THREAD', () => {
  it('sends from a thread of its own unless told otherwise', () => {
    expect(loadConfig('local', {}).sendingThread).toBe(true);
    expect(loadConfig('local', { SCHEDSTACK_DISPATCH_THREAD: 'true' }).sendingThread).toBe(true);
    expect(loadConfig('local', { SCHEDSTACK_DISPATCH_THREAD: '0' }).sendingThread).toBe(false);
    expect(loadConfig('local', { SCHEDSTACK_DISPATCH_THREAD: 'false' }).sendingThread).toBe(false);
  });

  it('refuses anything but true or false, naming the setting', () => {
    expect(() => loadConfig('local', { SCHEDSTACK_DISPATCH_THREAD: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig('local', { SCHEDSTACK_DISPATCH_THREAD: 'off' })).toThrow("SCHEDSTACK_DISPATCH_THREAD must be true or false, got 'off'");
  });
});
