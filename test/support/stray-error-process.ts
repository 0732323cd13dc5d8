// A process with the service's stray-error handling and logger that then misbehaves as the
// first argument says: `reject` leaves a rejected promise unhandled, `throw` throws from a
// callback. It says "still running" if it gets past that.
import { createLogger } from '../../src/log.js';
import { handleStrayErrors } from '../../src/stray-errors.js';

const logger = createLogger({ logLevel: 'info' });
if (process.argv[2] !== 'unhandled') handleStrayErrors(logger);

const afterALoop = () => new Promise((r) => setImmediate(r));

if (process.argv[3] === 'throw') {
  setImmediate(() => {
    throw new Error('thrown from a callback');
  });
} else {
  void Promise.reject(new Error('rejected with nobody listening'));
}
for (let i = 0; i < 3; i++) await afterALoop();
process.stdout.write('still running\n');
