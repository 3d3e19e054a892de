/** Reads and discards a response body (so its connection can be reused), up to `maxBytes`: past
 * that, or on any error, the body is cancelled instead. The destination is not trusted to answer
 * with a small body. */
export async function discardBody(res: Response, maxBytes = 64 * 1024): Promise<void> {
  const body = res.body;
  if (!body) return;
  const reader = body.getReader();
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > maxBytes) break;
    }
  } catch {
    return;
  }
  await reader.cancel().catch(() => undefined);
}
