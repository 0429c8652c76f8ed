/** Where a benchmark writes its human-readable lines (the JSON result goes last, apart). */
export type Log = (line: string) => void;

export const logLine: Log = (line) => {
  console.log(line);
};
