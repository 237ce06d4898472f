import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** Body of a refresh route. Use with Nest's ValidationPipe. */
export class RefreshTokenDto {
  @IsString()
  @IsNotEmpty()
  // The verifier refuses anything longer than `jwt.maxTokenLength` anyway; this keeps junk out of the pipe.
  @MaxLength(16384)
  refreshToken: string;

  /** OpenAPI metadata as the @nestjs/swagger CLI plugin writes it (see LoginDto): no import of @nestjs/swagger. */
  static _OPENAPI_METADATA_FACTORY() {
    return {
      refreshToken: {
        required: true,
        type: () => String,
        minLength: 1,
        maxLength: 16384,
        description: 'The refresh token of the pair returned by login or the previous refresh. It stops working once used.',
      },
    };
  }
}
