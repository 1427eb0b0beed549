import { contextBridge } from 'electron';
import type { LabApi } from './api';

const api: LabApi = {
  versions: {
    electron: process.versions['electron'] ?? 'unknown',
    chrome: process.versions['chrome'] ?? 'unknown',
    node: process.versions['node'] ?? 'unknown',
  },
};

contextBridge.exposeInMainWorld('lab', api);
