/** Validation of the jobs channels' payloads, as request-handlers-validation.ts does the rest. */
import type { RequestOf } from '../../common/contract.ts';
import { IssueList, formatIssues, readObject, readString } from '../library/validation.ts';
import { RequestError } from '../request-error.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `jobs.cancel`: `{id}`, a job id (a UUID, as jobs.list reports it), and nothing else. */
export function parseJobCancelRequest(payload: unknown): RequestOf<'jobs.cancel'> {
  const issues = new IssueList();
  const record = readObject(issues, payload, '', { required: ['id'] });
  const id = record
    ? readString(issues, record['id'], 'id', { minLength: 1, maxLength: 36 })
    : undefined;
  if (id !== undefined && !uuidPattern.test(id)) {
    issues.add('id', 'must be a job id (a UUID, as jobs.list reports it)');
  }
  if (!issues.empty || id === undefined) {
    throw new RequestError(
      'bad-request',
      `The jobs.cancel request is not valid:\n${formatIssues(issues.issues)}`,
      { issues: issues.issues },
    );
  }
  return { id };
}
