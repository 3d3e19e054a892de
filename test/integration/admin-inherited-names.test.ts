/** GET /admin/<the name of an Object.prototype member> (unauthenticated, whenever the dashboard is
 * on) is a 404: only the dashboard's own files are served, never an inherited member. */
import t from 'tap';
import { startServer } from '../helpers/server.js';

t.test('/admin/:file with a prototype member name is a 404, not a crash', async (t) => {
  const server = await startServer(t, { config: { admin: { tokenIds: ['ops'] } } });
  for (const file of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
    const r = await fetch(`${server.httpUrl}/admin/${file}`);
    t.equal(r.status, 404, `/admin/${file}`);
    await r.arrayBuffer();
  }
  t.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200, 'the server is still up');
});
