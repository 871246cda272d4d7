// An HTTP error with a status and a message a person can act on; the server answers it as JSON in the shape
// llama.cpp's server and OpenAI use: {"error": {"code": 400, "type": "invalid_request_error", "message": "..."}}.
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 404: 'not_found_error', 405: 'invalid_request_error',
  408: 'timeout_error', 409: 'cancelled_error', 411: 'invalid_request_error', 413: 'invalid_request_error',
  415: 'invalid_request_error', 500: 'server_error', 503: 'unavailable_error',
};

export function errorBody(status: number, message: string): { error: { code: number; type: string; message: string } } {
  return { error: { code: status, type: TYPES[status] ?? 'server_error', message } };
}
