// The assistant's release version: `GET /v1` reports it, the portal's 下载中心 compares it with the
// version an action needs, and packages are named after it. Kept equal to package.json's version
// (test/agent-package.test.ts checks).
export const AGENT_VERSION = '0.1.0';
