import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { isDeadLocalProcess, leaseOwnerName } from './projector-runner.js';

describe('lease holder liveness', () => {
  it('names owners role-host-pid', () => {
    expect(leaseOwnerName('api')).toBe(`api-${hostname()}-${process.pid}`);
  });

  it('knows a holder on this host whose process has exited is dead', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid as number;
    await new Promise((resolve) => child.on('exit', resolve));
    expect(isDeadLocalProcess(`api-${hostname()}-${pid}`)).toBe(true);
  });

  it('treats itself, live local processes, other hosts and odd names as alive', () => {
    expect(isDeadLocalProcess(leaseOwnerName('api'))).toBe(false);
    expect(isDeadLocalProcess(`api-${hostname()}-${process.ppid}`)).toBe(false);
    expect(isDeadLocalProcess('api-some-other-host-999999')).toBe(false);
    expect(isDeadLocalProcess('not a lease owner')).toBe(false);
  });
});
