import { KarmaError } from '../../../policies/errors.ts';

/** JSON.parse with the failure located as file:line:col. */
export function parseJsonText(text: string, file: string, kind: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    const message = (e as Error).message;
    const pos = /position (\d+)/.exec(message);
    let where = file;
    const offset = pos ? Number(pos[1]) : /end of JSON input/i.test(message) ? text.length : -1;
    if (offset >= 0) {
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const col = offset - before.lastIndexOf('\n');
      where = `${file}:${line}:${col}`;
    }
    throw new KarmaError(`${kind} is not valid JSON: ${message.replace(/^JSON\.parse: /, '').split('\n')[0]}`, { where, hint: 'fix the JSON syntax at the position shown' });
  }
}
