import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

/** Body of a refresh route. Use with Nest's ValidationPipe. */
export class RefreshTokenDto {
  // Optional: with `cookies.enabled` a browser sends no body and `refresh()` reads the refresh cookie.
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  // The verifier refuses anything longer than `jwt.maxTokenLength` anyway; this keeps junk out of the pipe.
  @MaxLength(16384)
  refreshToken?: string;

  /** OpenAPI metadata as the @nestjs/swagger CLI plugin writes it (see LoginDto): no import of @nestjs/swagger. */
  static _OPENAPI_METADATA_FACTORY() {
    return {
      refreshToken: {
        required: false,
        type: () => String,
        minLength: 1,
        maxLength: 16384,
        description:
          'The refresh token of the pair returned by login or the previous refresh; it stops working once used. Omitted when the refresh cookie carries it (cookies.enabled).',
      },
    };
  }
}
