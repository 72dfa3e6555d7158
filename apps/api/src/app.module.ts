import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, Reflector } from '@nestjs/core';
import type { LedgerConfig } from '#ledger';
import { LedgerModule } from '#ledger/nest';
import { AdminController } from './admin/admin.controller.js';
import { CustomersController } from './customers/customers.controller.js';
import { HealthController } from './health/health.controller.js';
import { ApiErrorFilter } from './http/api-error.filter.js';
import { ApiKeyGuard } from './http/auth.guard.js';
import { RateLimiter } from './http/rate-limiter.js';
import { StrictValidationPipe } from './http/strict-validation.pipe.js';
import { LedgerEntriesBatchController } from './wallets/ledger-entries-batch.controller.js';
import { WalletsController } from './wallets/wallets.controller.js';

@Module({})
export class AppModule {
  static forRoot(config: LedgerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [LedgerModule.forRoot(config)],
      controllers: [CustomersController, WalletsController, LedgerEntriesBatchController, HealthController, AdminController],
      providers: [
        { provide: APP_FILTER, useClass: ApiErrorFilter },
        { provide: APP_PIPE, useClass: StrictValidationPipe },
        {
          provide: APP_GUARD,
          inject: [Reflector],
          useFactory: (reflector: Reflector) =>
            new ApiKeyGuard(reflector, config.apiKeys, new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst, () => Date.now())),
        },
      ],
    };
  }
}
