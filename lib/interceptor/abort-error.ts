/** The error an aborted request ends with when its caller gave no reason (as undici names it). */
export function abortError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return error;
}
