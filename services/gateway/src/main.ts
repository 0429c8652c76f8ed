import { runService } from '@mp3converter/service';
import { loadGatewayConfig } from './config.ts';
import { shutdownBudgetMs, startGateway } from './server.ts';

await runService('gateway', loadGatewayConfig, startGateway, {
  shutdownTimeoutMs: shutdownBudgetMs,
  notReady: 'could not connect to MongoDB and RabbitMQ',
});
