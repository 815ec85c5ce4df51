/**
 * The JSON reply shapes of SPEC.md: `{"message": …, "status": "successful" | "failure"}`,
 * and the error messages every component shares.
 *
 * @module
 */

/** A SPEC.md reply body. Key order is part of the contract: `message`, then `status`. */
export interface SpecBody<T> {
  message: T;
  status: "successful" | "failure";
}

/** A successful reply body. */
export function successBody<T>(message: T): SpecBody<T> {
  return { message, status: "successful" };
}

/** A failure reply body; `detail` is prefixed with `<Error> ` as the spec's errors are. */
export function failureBody(detail: string): SpecBody<string> {
  return { message: `<Error> ${detail}`, status: "failure" };
}

/** A failure reply as a `Response`, for code that is not inside a Hono handler. */
export function failureResponse(
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json(failureBody(detail), { status, headers });
}

/** The spec's error for a path no replica serves. */
export function unknownEndpoint(path: string): string {
  return `'${path}' endpoint does not exist in server replicas`;
}
