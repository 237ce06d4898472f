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
}
