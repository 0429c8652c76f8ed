import { runService } from '@mp3converter/service';
import { loadAuthConfig } from './config.ts';
import { startAuthServer } from './server.ts';

await runService('auth', loadAuthConfig, startAuthServer, {
  notReady: 'could not prepare the database',
});
