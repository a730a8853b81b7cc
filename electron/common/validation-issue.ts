/** One problem with a request or a file: where (`hardware.cpus`, '' for the whole) and what. */
export interface ValidationIssueData {
  path: string;
  message: string;
}
