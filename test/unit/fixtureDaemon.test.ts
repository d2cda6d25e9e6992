// test/fixtures/daemon.sh starts and stops the private containerd + dockerd
// that makeRoots.sh and makeSample.sh build the real roots with. Those scripts
// take minutes and run only when their inputs change; this runs daemon.sh's own
// smoke check (both daemons on a throwaway data root, `docker info`, stopped by
// pid) so that a broken start or a daemon left running shows in seconds.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './support/roots';

const SCRIPT = path.join(repoRoot, 'test', 'fixtures', 'daemon.sh');
const isRoot = process.getuid?.() === 0;
const hasDaemons = ['/usr/sbin/dockerd', '/usr/bin/containerd', '/usr/bin/docker'].every((f) => fs.existsSync(f));
const skip = !isRoot ? 'a private dockerd needs root' : !hasDaemons ? "Debian's docker.io and containerd are not installed" : false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const driver of ['vfs', 'overlay2']) {
  test(`daemon.sh starts dockerd (${driver}) on its own containerd, and stops both, leaving nothing behind`, { skip }, () => {
    const r = spawnSync('bash', [SCRIPT, driver], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `daemon.sh ${driver} failed:\n${r.stdout}${r.stderr}`);
    const started = /dockerd \(pid (\d+)\) on containerd \(pid (\d+)\): [^,]+, driver (\S+), root (\S+)/.exec(r.stdout);
    assert.ok(started, `the check says what it started:\n${r.stdout}`);
    const [, dpid, cpid, got, dataRoot] = started;
    assert.equal(got, driver, 'docker info names the driver asked for');
    assert.match(dataRoot, /^\/tmp\/dle-daemon-check\.[^/]+\/d\/root$/, 'the data root is a throwaway folder of its own');
    for (const pid of [Number(dpid), Number(cpid)]) assert.ok(!alive(pid), `pid ${pid} is stopped`);
    const scratch = path.dirname(path.dirname(dataRoot));
    assert.ok(!fs.existsSync(scratch), `${scratch} is removed`);
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(scratch), `nothing stays mounted under ${scratch}`);
  });
}

test('daemon.sh, when dockerd cannot start, says so with its log, and stops the containerd it started', { skip }, () => {
  const r = spawnSync('bash', [SCRIPT, 'no-such-driver'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\[daemon\] ERROR: dockerd \(no-such-driver\) exited during start-up/);
  const log = /\[daemon\] last lines of (\/tmp\/dle-daemon-check\.[^/]+)\/d\/dockerd\.log:/.exec(r.stderr);
  assert.ok(log, `the end of dockerd's log follows:\n${r.stderr}`);
  assert.match(r.stderr, /\[daemon\] FAILED \(exit 1\)/);
  assert.ok(!fs.existsSync(log[1]), `${log[1]} is removed`);
  const pids = spawnSync('pgrep', ['-f', `${log[1]}/`], { encoding: 'utf8' }).stdout.trim();
  assert.equal(pids, '', `no process of that run is left (containerd stopped by its pid): ${pids}`);
});
