/** What the differential specs of cache.fetch read of a Response (hits-at-once.spec.ts, through.spec.ts). */

/** Everything a caller can read of a Response, read the same way of both. */
export async function snapshot(response: Response): Promise<Record<string, unknown>> {
  const copy = response.clone();
  const refused = (change: () => void): string => {
    try {
      change();
      return 'changed';
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  };
  const seen = {
    isResponse: response instanceof Response,
    constructorName: response.constructor.name,
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: response.url,
    redirected: response.redirected,
    type: response.type,
    headers: [...response.headers],
    setCookie: response.headers.getSetCookie(),
    contentType: response.headers.get('content-type'),
    bodyUsed: response.bodyUsed,
    byob: response.body === null ? 'no body' : typeof response.body.getReader,
    setHeader: refused(() => response.headers.set('x-changed', '1')),
    appendHeader: refused(() => response.headers.append('x-changed', '1')),
    deleteHeader: refused(() => response.headers.delete('content-type')),
  };
  const body = Buffer.from(await response.arrayBuffer()).toString('base64');
  const clone = {
    url: copy.url,
    type: copy.type,
    redirected: copy.redirected,
    status: copy.status,
    headers: [...copy.headers],
    setHeader: refused(() => copy.headers.set('x-changed', '1')),
    body: Buffer.from(await copy.arrayBuffer()).toString('base64'),
  };
  return { ...seen, body, bodyUsedAfter: response.bodyUsed, cloneAfterUse: refused(() => response.clone()), clone };
}

/** A Response made by the cache, not by fetch: the members fetch keeps internally are its own (lib/fetch-hits.ts). */
export const madeAtOnce = (response: Response): boolean => Object.hasOwn(response, 'url');
